"""`harness chat`: talk to a checkpoint, multi-turn, from a terminal or a pipe.

Each input line is one user turn; the whole history goes to the model every turn.
`/reset` clears the history (a --system prompt stays), `/exit` or end of input
quits. Thinking (`<think>...</think>`) is not kept in the history, as Qwen3 expects.

Defaults are lively sampling settings for interactive use (temperature 0.95, top_k 20, top_p 0.85,
repetition_penalty 1.2, max_new_tokens 1024); `--gen KEY=VALUE` changes any of them, e.g.
`--gen temperature=0` for greedy answers.
"""

from __future__ import annotations

import sys
from typing import TextIO

from harness.models.generation_settings import GenerationSettings

CHAT_DEFAULTS = {"temperature": 0.95, "top_k": 20, "top_p": 0.85, "repetition_penalty": 1.2, "max_new_tokens": 1024}
COMMANDS = "/reset clears the history, /exit quits"


def chat_settings(overrides: dict) -> GenerationSettings:
    return GenerationSettings().updated(CHAT_DEFAULTS, "harness chat defaults").updated(overrides, "--gen")


def chat_loop(backend, settings: GenerationSettings, *, system: str | None = None,
              stdin: TextIO | None = None, stdout: TextIO | None = None, role: str = "ckpt") -> int:
    """Run the conversation; returns the number of answers given."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    interactive = stdin.isatty()
    start = [{"role": "system", "content": system}] if system else []
    history = list(start)
    answers = 0
    print(f"chat with {getattr(backend.ckpt, 'spec', '?')} ({COMMANDS})", file=stdout, flush=True)
    while True:
        if interactive:
            print("you: ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:  # end of input
            break
        text = line.strip()
        if not text:
            continue
        if text in {"/exit", "/quit"}:
            break
        if text == "/reset":
            history = list(start)
            print("(history cleared)", file=stdout, flush=True)
            continue
        history.append({"role": "user", "content": text})
        answer = backend.generate([history], settings, role=role)[0]
        history.append({"role": "assistant", "content": answer.text})
        answers += 1
        note = "  [cut at max_new_tokens]" if answer.finish_reason == "length" else ""
        print(f"assistant: {answer.text}{note}", file=stdout, flush=True)
    return answers
