"""`harness watch DIR --suite S`: rescore every checkpoint directory that appears under DIR, once.

Any trainer works: a checkpoint is a directory with adapter_config.json and adapter weights
(DIR/checkpoint-*/, DIR/final/, ...). The base model is loaded once; each new adapter is loaded
on top of it. Results go to DIR/scores.jsonl and DIR/evals/, like `harness train`.
"""

from __future__ import annotations

import re
import time
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
          interval: float = 10.0, timeout: float | None = None, console: Console | None = None) -> int:
    console = console or Console()
    root = Path(directory)
    if not root.is_dir():
        raise HarnessError(f"watch: {directory} is not a directory")
    done = {line["checkpoint"] for line in read_scores(root)}
    backend, scored, start = None, 0, time.time()
    console.print(f"watching {root} for adapter checkpoints ({'one pass' if once else f'every {interval:g} s, Ctrl-C to stop'})")
    while True:
        for folder in ready_checkpoints(root):
            path = str(folder.resolve())
            if path in done:
                continue
            ckpt = resolve_checkpoint(path, base=base)
            backend = _backend_for(backend, ckpt)
            m = re.search(r"(\d+)$", folder.name)
            rescorer.score(backend, ckpt, int(m.group(1)) if m else None)
            done.add(path)
            scored += 1
        if once or (timeout is not None and time.time() - start > timeout):
            return scored
        time.sleep(interval)


def _backend_for(backend, ckpt):
    """Load the base once; later adapters are added to the same PEFT model and switched to."""
    from harness.models.backends import make_backend

    if backend is None or backend.ckpt.model != ckpt.model:
        return make_backend(ckpt)
    name = f"a{abs(hash(ckpt.adapter)) % 10**8}"
    backend.model.load_adapter(ckpt.adapter, adapter_name=name)
    backend.model.set_adapter(name)
    backend.model.eval()
    backend.ckpt = ckpt
    return backend
