"""`harness demo`: the whole loop on the bundled SmolLM2-135M-Instruct, on CPU.

The config (trainers/configs/demo.yaml) QLoRA-trains on trainers/data/demo/, the output of the
recipe trainers/data/demo_recipe.yaml (`harness data build`) over four small sources written for
this project (trainers/data/sources/: strict JSON answers, Markdown tables, refusals of harmful
requests, helpful answers to benign ones; Chinese and English).
"""

from pathlib import Path

DEMO_CONFIG = Path(__file__).resolve().parent / "configs" / "demo.yaml"
