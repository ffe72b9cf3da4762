"""`harness demo`: the whole loop on the bundled SmolLM2-135M-Instruct, on CPU.

The config (trainers/configs/demo.yaml) QLoRA-trains on trainers/data/demo_train.jsonl, a small
set written for this project (strict JSON answers, Markdown tables, refusals of harmful requests,
helpful answers to benign ones; Chinese and English; built by trainers/data/build_demo_data.py).
"""

from pathlib import Path

DEMO_CONFIG = Path(__file__).resolve().parent / "configs" / "demo.yaml"
