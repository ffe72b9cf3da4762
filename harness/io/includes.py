"""`--include PATH`: a folder of extensions, loaded through the same registries as the built-in parts
(like lm-evaluation-harness's --include_path), so a course or a team can add without forking:

    PATH/suites/<name>.yaml            found by `--suite <name>` (before the built-in suites)
    PATH/scorers/*.py                  imported: their @scorer / @batch_scorer register
    PATH/judges/configs/<name>.yaml    judge configs, found by name (before the built-in ones)
    PATH/judges/templates/<kind>.<lang>.md   judge templates (before the built-in ones)
    PATH/trainers/*.py                 imported: their @register_trainer classes register

Folders come from `--include` (repeatable) and `$SFT_HARNESS_INCLUDE` (os.pathsep-separated). A run
records them in config.json, so `--resume` and `harness rescore` load them again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

from harness.errors import HarnessError

ENV = "SFT_HARNESS_INCLUDE"
_DIRS: list[Path] = []


def include_dirs() -> list[Path]:
    """The included folders, in the order given."""
    return list(_DIRS)


def include(path: str | Path, where: str = "--include") -> Path:
    """Add a folder: check it, then import its scorer and trainer modules (once per folder)."""
    folder = Path(path).expanduser().resolve()
    if not folder.is_dir():
        raise HarnessError(f"{where} {path}: no such folder (give a folder holding suites/, scorers/, "
                           "judges/ or trainers/)")
    if folder in _DIRS:
        return folder
    _DIRS.append(folder)
    for kind in ("scorers", "trainers"):
        for file in sorted((folder / kind).glob("*.py")):
            _import(file, where)
    return folder


def include_from_env() -> None:
    for part in filter(None, os.environ.get(ENV, "").split(os.pathsep)):
        include(part, f"${ENV}:")


def find(*parts: str) -> Path | None:
    """The first included folder's PATH/<parts...>, if it is a file."""
    for folder in _DIRS:
        candidate = folder.joinpath(*parts)
        if candidate.is_file():
            return candidate
    return None


def _import(file: Path, where: str) -> None:
    # a module name of its own per file, so two includes may both have scorers/custom.py
    name = f"sft_harness_include_{hashlib.sha256(str(file).encode()).hexdigest()[:12]}_{file.stem}"
    if name in sys.modules:  # imported before in this process: its registrations stand
        return
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # the user's code: say which file and why, in one line
        del sys.modules[name]
        first = (str(e).strip().splitlines() or [""])[0]
        raise HarnessError(f"{where}: {file} failed to import: {type(e).__name__}: {first}") from None
