"""Writing files without losing what is already there.

- `atomic_write_text`: a whole file (config.json, summary.json, report.md, ...) is written to a
  temporary file beside it and renamed over the old one, so a full disk or a kill mid-write
  leaves the old file intact, never a truncated one.
- `write_refused`: the one error (a HarnessError: one line, exit 2) for a write the system
  refuses: a full disk, a file-size limit (`ulimit -f`), a read-only or foreign directory.
- `check_writable_dir`: ask before expensive work (loading a model) whether a directory takes
  files at all; permission bits say nothing for root, so it tries to create a file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from harness.errors import HarnessError

DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}


def write_refused(path: str | Path, error: OSError, then: str = "run the command again") -> HarnessError:
    """What went wrong, where, and what to do, for an OSError raised while writing `path`."""
    reason = error.strerror or str(error)
    if error.errno in DISK_FULL:
        fix = f"free some space (or raise the file-size limit, `ulimit -f`), then {then}; what was written is kept"
    elif error.errno in READ_ONLY:
        fix = f"the directory is read-only or not yours: make it writable (or copy it somewhere writable), then {then}"
    else:
        fix = then
    return HarnessError(f"cannot write {path}: {reason}; {fix}")


def atomic_write_text(path: str | Path, text: str, *, then: str = "run the command again") -> None:
    """Replace `path` with `text` in one step (temporary file + rename); keeps an existing file's mode."""
    path = Path(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        # backslashreplace: a lone surrogate (from a `\ud800` escape in someone's JSON) cannot be UTF-8;
        # written as `\ud800` it reads back as the same JSON string, and shows as itself in Markdown
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)  # mkstemp makes it private
        os.replace(tmp, path)
    except OSError as e:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise write_refused(path, e, then) from None


def check_writable_dir(path: str | Path, what: str) -> None:
    """Make sure files can be created in `path`, or (when it does not exist yet) in the nearest
    existing directory above it, where it would be made; creates nothing. HarnessError otherwise."""
    path = Path(path)
    probe = path.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise HarnessError(f"{what} {path}: {probe} is a file, not a directory; choose another directory")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as e:
        reason = e.strerror or str(e)
        if e.errno in READ_ONLY:
            raise HarnessError(f"{what} {path} is not writable ({reason}); make it writable or choose another "
                               "directory (a run directory can be copied with cp -r and the copy resumed)") from None
        raise write_refused(path, e) from None

