"""`harness watch DIR --suite S`: rescore every checkpoint directory that appears under DIR, once.

Any trainer works: a checkpoint is a directory with adapter_config.json and adapter weights
(DIR/checkpoint-*/, DIR/final/, ...). The base model is loaded once; each new adapter is loaded
on top of it. Results go to DIR/scores.jsonl and DIR/evals/, like `harness train`.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from harness.models.checkpoint import resolve_checkpoint
from harness.errors import HarnessError
from harness.app.checkpoint_scores import Rescorer, read_scores

_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


def ready_checkpoints(directory: Path) -> list[Path]:
    """Adapter dirs whose weights are fully written (size unchanged over a short wait)."""
    found = []
    for cfg in sorted(directory.glob("*/adapter_config.json")) + sorted(directory.glob("adapter_config.json")):
        folder = cfg.parent
        weights = next((folder / w for w in _WEIGHTS if (folder / w).is_file()), None)
        if weights is None:
            continue
        size = weights.stat().st_size
        time.sleep(0.2)
        if weights.stat().st_size == size:
            found.append(folder)
    return sorted(found, key=_step_order)


def _step_order(path: Path):
    m = re.search(r"(\d+)$", path.name)
    return (0, int(m.group(1))) if m else (1, path.name)


def watch(directory: str, rescorer: Rescorer, *, base: str | None = None, once: bool = False,
          interval: float = 10.0, timeout: float | None = None, console: Console | None = None,
          backend_name: str | None = None, backend_options: dict | None = None) -> int:
    """`backend_name`: a registered backend other than hf (vllm: one engine, each adapter loaded at run
    time), made with `backend_options` (vllm: {"settings": {...}})."""
    console = console or Console()
    root = Path(directory)
    if not root.is_dir():
        raise HarnessError(f"watch: {directory} is not a directory")
    done = {line["checkpoint"] for line in read_scores(root)}
    backend, scored, start = None, 0, time.time()
    console.print(f"watching {root} for adapter checkpoints ({'one pass' if once else f'every {interval:g} s, Ctrl-C to stop'})")
    try:
        while True:
            for folder in ready_checkpoints(root):
                path = str(folder.resolve())
                if path in done:
                    continue
                ckpt = resolve_checkpoint(path, base=base)
                if backend_name:
                    ckpt = replace(ckpt, backend=backend_name)
                backend = _backend_for(backend, ckpt, root, backend_options or {})
                m = re.search(r"(\d+)$", folder.name)
                rescorer.score(backend, ckpt, int(m.group(1)) if m else None)
                done.add(path)
                scored += 1
            if once or (timeout is not None and time.time() - start > timeout):
                return scored
            time.sleep(interval)
    finally:
        if backend is not None:
            backend.close()  # a server the backend started goes with it (also on Ctrl-C and errors)


def _backend_for(backend, ckpt, root: Path, options: dict):
    """Load the base once; later adapters of the same base are switched to on the same engine."""
    from harness.models.backends import make_backend

    if backend is not None and backend.ckpt.model == ckpt.model and backend.capabilities().switch_adapter:
        backend.switch_adapter(ckpt)
        return backend
    if backend is not None:
        backend.close()
    backend = make_backend(ckpt, **options)
    backend.attach_run_dir(root)  # a server's log goes beside scores.jsonl
    return backend
