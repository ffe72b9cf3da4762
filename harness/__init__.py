"""sft-harness: an evaluation-first harness for QLoRA supervised fine-tuning of chat LLMs."""

__version__ = "0.1.0"
