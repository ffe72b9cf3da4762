"""Training across processes (`accelerate launch`, torchrun): who is the main process, and a barrier.

Every process trains; only the main one (rank 0) writes what is shared (the resolved config, the
mask audit, the tokenizer, scores.jsonl and the evaluations, the plot, the summary) and rescores
checkpoints. The others wait at `wait_for_everyone` until it is done, then train on together.
The launcher says who is who in the environment (RANK, WORLD_SIZE), so this works before any
process group exists; the barrier is a no-op in a single process.
"""

from __future__ import annotations

import os


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def wait_for_everyone() -> None:
    if world_size() == 1:
        return
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
