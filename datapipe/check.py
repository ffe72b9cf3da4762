"""`harness data check`: is a messages JSONL ready for training with a given model?

For every row: the schema rules (roles valid and alternating, no empty assistant turn, tool calls
answered by tool turns; errors name file and line), that the model's chat template renders it,
and its token length and trained (assistant) tokens under the template and mask training uses.
Then the mask audit (harness/models/mask_audit.py) on the first conversations, token-length statistics,
the share of rows longer than max_length, and a recommended max_length: the 95th percentile
rounded up to a power of two.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datapipe.schema import conversation_problem
from harness.errors import HarnessError


@dataclass
class LengthStats:
    rows: int
    mean: float
    median: float
    p95: float
    max: int
    max_length: int
    truncated: int  # rows longer than max_length
    untrained: int  # rows with no trained token within max_length
    recommended_max_length: int

    @property
    def truncated_share(self) -> float:
        return self.truncated / self.rows if self.rows else 0.0


@dataclass
class CheckReport:
    files: list[str]
    rows: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (file:line, what is wrong)
    lengths: LengthStats | None = None
    audit: object = None  # harness.models.mask_audit.AuditReport

    @property
    def ok(self) -> bool:
        return not self.problems and (self.audit is None or self.audit.ok)


def files_to_check(target: str | Path) -> list[Path]:
    """A JSONL file, or the train/validation files of a `harness data build` output directory."""
    path = Path(target)
    if path.is_dir():
        files = [path / name for name in ("train.jsonl", "validation.jsonl") if (path / name).is_file()]
        if not files:
            raise HarnessError(f"{path} is a directory without train.jsonl or validation.jsonl; "
                               "give a messages JSONL file or a `harness data build` output directory")
        return files
    if not path.is_file():
        raise HarnessError(f"data not found: {path} (a messages JSONL file or a `harness data build` output directory)")
    return [path]


def read_rows(path: Path, report: CheckReport):
    """(where, messages, tools) of each row that meets the schema; problems go to the report."""
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            where = f"{path}:{lineno}"
            report.rows += 1
            try:
                row = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as e:
                report.problems.append((where, f"not UTF-8 text ({e.reason} at byte {e.start} of the line)"))
                continue
            except json.JSONDecodeError as e:
                report.problems.append((where, f"not valid JSON ({e.msg} at column {e.colno})"))
                continue
            problem = _row_problem(row)
            if problem:
                report.problems.append((where, problem))
                continue
            yield where, row["messages"], row.get("tools")


def _row_problem(row) -> str | None:
    if not isinstance(row, dict):
        return "not a JSON object"
    if not isinstance(row.get("messages"), list):
        return ("no 'messages' list (rows in another shape, e.g. ShareGPT or Alpaca, are normalised by "
                "`harness data build`)")
    tools = row.get("tools")
    if tools is not None and not isinstance(tools, list):
        return "tools must be a list of tool schemas"
    return conversation_problem(row["messages"])


def check(target: str | Path, tokenizer, template: str, end_of_turn_ids: set[int], *, max_length: int,
          audit_examples: int = 200) -> CheckReport:
    from harness.models.chat_template import assistant_mask, has_generation_markers
    from harness.models.mask_audit import audit_mask

    files = files_to_check(target)
    report = CheckReport(files=[str(f) for f in files])
    lengths, trained_in_window, audit_convs = [], [], []
    for path in files:
        for where, messages, tools in read_rows(path, report):
            try:
                if tools or has_generation_markers(template):
                    out = tokenizer.apply_chat_template(
                        messages, tools=tools, tokenize=True, return_dict=True, return_assistant_tokens_mask=True,
                        chat_template=template,
                    )
                    ids, mask = out["input_ids"], out["assistant_masks"]
                else:  # a template masked by rendered prefixes
                    ids, mask = assistant_mask(tokenizer, messages, template)
            except Exception as e:  # a template raises whatever its author chose (jinja, TypeError, ...)
                report.problems.append((where, f"the chat template does not render it: {str(e).splitlines()[0]}"))
                continue
            lengths.append(len(ids))
            trained_in_window.append(sum(mask[:max_length]))
            if len(audit_convs) < audit_examples and not tools and all(set(m) <= {"role", "content"} for m in messages):
                audit_convs.append(messages)
    if lengths:
        report.lengths = length_stats(lengths, trained_in_window, max_length)
    if audit_convs:
        report.audit = audit_mask(tokenizer, audit_convs, template, end_of_turn_ids)
    return report


def length_stats(lengths: list[int], trained_in_window: list[int], max_length: int) -> LengthStats:
    values = np.asarray(lengths)
    p95 = float(np.percentile(values, 95))
    return LengthStats(
        rows=len(values), mean=float(values.mean()), median=float(np.median(values)), p95=p95,
        max=int(values.max()), max_length=max_length, truncated=int((values > max_length).sum()),
        untrained=sum(1 for t in trained_in_window if t == 0), recommended_max_length=power_of_two_at_least(p95),
    )


def power_of_two_at_least(x: float) -> int:
    return 1 << max(0, math.ceil(math.log2(max(x, 1))))
