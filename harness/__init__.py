"""sft-harness: an evaluation-first harness for QLoRA supervised fine-tuning of chat LLMs."""

import sys

from harness.models import backends as _backends
from harness.models.backends import base as _backends_base

__version__ = "0.1.0"

# Backends moved to harness.models.backends; `--include` plugins written against the old path
# (`from harness.backends import register_backend`) keep working.
sys.modules.setdefault("harness.backends", _backends)
sys.modules.setdefault("harness.backends.base", _backends_base)
