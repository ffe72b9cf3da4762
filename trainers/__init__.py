"""Pluggable trainers (see trainers/base.py). Importing the package registers the built-in ones."""

from trainers import qlora  # noqa: F401  (registers "qlora")
from trainers.base import TrainResult, available_trainers, get_trainer, register_trainer

__all__ = ["TrainResult", "available_trainers", "get_trainer", "register_trainer"]
