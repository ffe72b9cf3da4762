"""Handed-in lab reports: what a report folder must hold, and a class folder's submissions.

A class folder holds one submission per student: a report folder (the --out of `harness report`)
or a .zip / .tar.gz (.tgz) of one; the folder's or the archive's name is the student id. An
archive holds the report's files at its root or under one top-level folder.

Archives are unpacked by hand, member by member, into a folder the grader chooses: a member whose
path is absolute or climbs out (`../`, zip-slip), a link, a device, or an archive that unpacks to
more than MAX_UNPACKED_BYTES is refused, so nothing is written outside that folder.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from harness.errors import HarnessError

GRADE_FILE, REPORT_FILE, EVIDENCE_DIR = "grade.json", "report.md", "evidence"
# grade.json's layout; a report that records another one was made by another version of the harness
REPORT_FORMAT = 1
MAX_UNPACKED_BYTES = 2 * 1024**3
ARCHIVE_SUFFIXES = {".zip": "zip", ".tar.gz": "tar", ".tgz": "tar"}


class SubmissionError(HarnessError):
    """A submission that cannot be graded; the message is its line in the roster."""


@dataclass(frozen=True)
class Submission:
    student: str
    path: Path
    kind: str  # folder | zip | tar | other

    def fingerprint(self) -> str:
        """Changes when the submission changes: the archive's sha256, or the folder's file list
        with sizes and modification times (a resumed class grade re-grades a changed one)."""
        h = hashlib.sha256()
        if self.kind == "folder":
            for p in sorted(self.path.rglob("*")):
                if p.is_file():
                    s = p.stat()
                    h.update(f"{p.relative_to(self.path)}\0{s.st_size}\0{s.st_mtime_ns}\n".encode())
        elif self.path.is_file():
            with self.path.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        return h.hexdigest()


def student_of(path: Path) -> tuple[str, str]:
    """(student id, kind) of one entry of a class folder."""
    if path.is_dir():
        return path.name, "folder"
    name = path.name
    for suffix, kind in ARCHIVE_SUFFIXES.items():
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], kind
    return path.stem or name, "other"


def find_submissions(class_dir: Path, skip: Path | None = None) -> list[Submission]:
    """Every visible entry of the class folder, sorted by student id (`skip`: the output folder,
    when it lies inside). An entry that is neither a folder nor an archive is kept, as kind
    "other", so the roster can say why it was not graded."""
    if not class_dir.is_dir():
        raise HarnessError(f"{class_dir}: no such directory (give the folder holding one report folder or archive per student)")
    skip_resolved = skip.resolve() if skip is not None else None
    found = []
    for p in sorted(class_dir.iterdir()):
        if p.name.startswith(".") or (skip_resolved is not None and p.resolve() == skip_resolved):
            continue
        student, kind = student_of(p)
        found.append(Submission(student, p, kind))
    if not found:
        raise HarnessError(f"{class_dir}: empty; it should hold one report folder, .zip or .tar.gz per student")
    return sorted(found, key=lambda s: (s.student, s.path.name))


# ---- unpacking ---------------------------------------------------------------------------------
def _safe_member(name: str, archive: Path) -> PurePosixPath | None:
    """The member's relative path, or a SubmissionError when it would land outside the folder."""
    raw = name.replace("\\", "/")
    p = PurePosixPath(raw)
    if raw.startswith("/") or re.match(r"^[A-Za-z]:", raw) or ".." in p.parts:
        raise SubmissionError(f"{archive.name}: refused: the member {name!r} points outside the archive (path traversal); "
                              "nothing was unpacked from it")
    parts = [x for x in p.parts if x not in ("", ".")]
    return PurePosixPath(*parts) if parts else None


def _write_member(dest: Path, rel: PurePosixPath, data: bytes) -> None:
    target = dest.joinpath(*rel.parts)
    if dest.resolve() not in target.resolve().parents:  # a defence in depth; _safe_member refused it already
        raise SubmissionError(f"refused: {rel} would be written outside the unpacking folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def _unzip(archive: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as z:
            infos = z.infolist()
            members = []
            for info in infos:
                rel = _safe_member(info.filename, archive)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    raise SubmissionError(f"{archive.name}: refused: the member {info.filename!r} is a symbolic link")
                if rel is not None and not info.is_dir():
                    members.append((info, rel))
            if sum(i.file_size for i, _ in members) > MAX_UNPACKED_BYTES:
                raise SubmissionError(f"{archive.name}: refused: it unpacks to more than {MAX_UNPACKED_BYTES >> 30} GiB")
            for info, rel in members:
                _write_member(dest, rel, z.read(info))
    except SubmissionError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, NotImplementedError) as e:
        raise SubmissionError(f"{archive.name}: not a readable zip archive ({_first_line(e)}); ask the student to hand it "
                              "in again") from None


def _untar(archive: Path, dest: Path) -> None:
    try:
        with tarfile.open(archive, "r:*") as t:
            members = []
            for m in t.getmembers():
                rel = _safe_member(m.name, archive)
                if m.issym() or m.islnk():
                    raise SubmissionError(f"{archive.name}: refused: the member {m.name!r} is a link (to {m.linkname!r})")
                if m.isdir() or rel is None:
                    continue
                if not m.isfile():
                    raise SubmissionError(f"{archive.name}: refused: the member {m.name!r} is not a regular file")
                members.append((m, rel))
            if sum(m.size for m, _ in members) > MAX_UNPACKED_BYTES:
                raise SubmissionError(f"{archive.name}: refused: it unpacks to more than {MAX_UNPACKED_BYTES >> 30} GiB")
            for m, rel in members:
                f = t.extractfile(m)
                _write_member(dest, rel, f.read() if f is not None else b"")
    except SubmissionError:
        raise
    except (tarfile.TarError, EOFError, OSError, ValueError) as e:
        raise SubmissionError(f"{archive.name}: not a readable .tar.gz archive ({_first_line(e)}); ask the student to hand "
                              "it in again") from None


def _first_line(e: Exception) -> str:
    """tarfile lists every method it tried, one per line; the roster keeps one line per submission."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0].rstrip(":")


def report_root(folder: Path, label: str) -> Path:
    """The report folder inside an unpacked archive: its root, or its one top-level folder."""
    if (folder / GRADE_FILE).is_file():
        return folder
    tops = [p for p in folder.iterdir() if not p.name.startswith(".")] if folder.is_dir() else []
    if len(tops) == 1 and tops[0].is_dir() and (tops[0] / GRADE_FILE).is_file():
        return tops[0]
    raise SubmissionError(f"{label}: no {GRADE_FILE} at its root or in its one top-level folder: not a lab report "
                          "(hand in the whole --out folder of harness report)")


def open_submission(sub: Submission, scratch: Path) -> Path:
    """The report folder of a submission: the folder itself (read in place, never written), or the
    archive unpacked into `scratch` (emptied first)."""
    if sub.kind == "folder":
        return sub.path
    if sub.kind == "other":
        raise SubmissionError(f"{sub.path.name}: neither a report folder nor a .zip / .tar.gz archive")
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    try:
        (_unzip if sub.kind == "zip" else _untar)(sub.path, scratch)
    except SubmissionError:
        shutil.rmtree(scratch, ignore_errors=True)  # nothing of a refused archive stays behind
        raise
    return report_root(scratch, sub.path.name)


# ---- a report folder ---------------------------------------------------------------------------
def read_grade_file(folder: Path, label: str | None = None) -> dict:
    """grade.json of a handed-in report folder, checked: present, JSON, made by a version of the
    harness that wrote this layout, with the sha256 of every graded file."""
    label = label or str(folder)
    f = folder / GRADE_FILE
    if not f.is_file():
        raise SubmissionError(f"{label}: not a lab report folder (no {GRADE_FILE}); give the --out folder of harness report")
    try:
        handed = json.loads(f.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise SubmissionError(f"{label}/{GRADE_FILE}: not valid JSON ({e}); the file was edited by hand or cut short") from None
    if not isinstance(handed, dict):
        raise SubmissionError(f"{label}/{GRADE_FILE}: not a JSON object; the file was edited by hand or made by another tool")
    fmt = handed.get("report_format", REPORT_FORMAT)  # reports from before the field have this layout
    if fmt != REPORT_FORMAT:
        made_by = handed.get("harness_version") or "an unknown version"
        raise SubmissionError(f"{label}: made by sft-harness {made_by} (report format {fmt!r}); this harness reads format "
                              f"{REPORT_FORMAT}: grade it with the version that made it, or have it made again")
    files = handed.get("files")
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise SubmissionError(f"{label}/{GRADE_FILE}: no 'files' (the sha256 of every graded file); the file was edited "
                              "by hand or made by another tool")
    return handed


def check_parts(folder: Path, label: str) -> None:
    """The parts a report folder cannot be graded without."""
    missing = [name + ("/" if name == EVIDENCE_DIR else "") for name in (REPORT_FILE, EVIDENCE_DIR)
               if not (folder / name).exists()]
    if missing:
        raise SubmissionError(f"{label}: incomplete report folder, no {' and no '.join(missing)} "
                              "(hand in the whole --out folder of harness report)")
