"""CLI basics a script relies on: --version, python -m harness, the exit code of an internal
error (distinct from a regression and from bad input), --limit, and --resume refusing flags it
would ignore."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from conftest import REPO, load_json, only_run_dir


def test_version_and_python_dash_m():
    done = subprocess.run([sys.executable, "-m", "harness", "--version"], capture_output=True, text=True, cwd=REPO)
    from harness import __version__

    assert done.returncode == 0 and done.stdout.strip() == f"sft-harness {__version__}"


def _crash(*args, **kwargs):
    raise RuntimeError("boom inside the runner")


def test_an_internal_error_exits_3_with_one_line_and_a_saved_traceback(harness_cli, monkeypatch, tmp_path):
    import harness.app.run

    monkeypatch.setattr(harness.app.run, "run_suite", _crash)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code, out, err = harness_cli("run", "--ckpt", "anything", "--runs-dir", tmp_path)
    assert code == 3  # not 1 (the gate's regression) and not 2 (bad input)
    line = " ".join(err.split())
    assert "internal error" in line and "RuntimeError: boom inside the runner" in line
    path = line.split("traceback: ", 1)[1].split(". Please", 1)[0]
    saved = open(path, encoding="utf-8").read()
    assert "Traceback (most recent call last)" in saved and "_crash" in saved
    assert "::error title=sft-harness internal error::RuntimeError: boom inside the runner" in out


def test_verbose_prints_the_traceback(harness_cli, monkeypatch, tmp_path):
    import harness.app.run

    monkeypatch.setattr(harness.app.run, "run_suite", _crash)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    code, out, err = harness_cli("--verbose", "run", "--ckpt", "anything", "--runs-dir", tmp_path)
    assert code == 3 and "Traceback (most recent call last)" in err and "traceback: above" in " ".join(err.split())
    assert "::error" not in out


def test_limit_caps_every_task_and_one_task(harness_cli, tiny_model, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--task", "format", "--task", "ppl", "--limit", "3",
                               "--limit", "ppl=2", "--gen", "max_new_tokens=4", "--runs-dir", tmp_path)
    assert code == 0, err
    run = only_run_dir(tmp_path)
    rows = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    assert sum(r["task"] == "format" for r in rows) == 3 and sum(r["task"] == "ppl" for r in rows) == 2
    config = load_json(run / "config.json")
    assert config["invocation"]["limit"] == {"*": 3, "ppl": 2}
    assert config["suite"]["tasks"]["format"]["n_samples"] == 3
    assert load_json(run / "summary.json")["metrics"]["ppl/perplexity"]["ckpt"]["n"] == 2


def test_a_fractional_limit_keeps_that_share_of_each_task(harness_cli, tiny_model, tmp_path):
    """lm-eval's --limit 0.5: half of each task's samples, rounded up (format: 19 -> 10, ppl: 24 -> 12)."""
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--task", "format", "--task", "ppl", "--limit", "0.5",
                               "--limit", "ppl=0.25", "--gen", "max_new_tokens=2", "--runs-dir", tmp_path)
    assert code == 0, err
    run = only_run_dir(tmp_path)
    rows = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    assert sum(r["task"] == "format" for r in rows) == 10 and sum(r["task"] == "ppl" for r in rows) == 6
    assert load_json(run / "config.json")["invocation"]["limit"] == {"*": 0.5, "ppl": 0.25}


def test_a_bad_limit_is_one_line(harness_cli, tiny_model, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--limit", "nope=3", "--runs-dir", tmp_path)
    assert code == 2 and "no task 'nope'" in err
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--limit", "x", "--runs-dir", tmp_path)
    assert code == 2 and "--limit x: give a whole number" in err
    for bad in ("1.5", "0", "-0.5", "0.0"):
        code, _, err = harness_cli("run", "--ckpt", tiny_model, "--limit", bad, "--runs-dir", tmp_path)
        assert code == 2 and f"--limit {bad}: give a whole number >= 1" in err and "a fraction between 0 and 1" in err
    assert not any(tmp_path.iterdir())  # nothing written


def test_resume_refuses_flags_it_would_ignore(harness_cli, tiny_model, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--task", "ppl", "--limit", "2", "--runs-dir", tmp_path)
    assert code == 0, err
    run = only_run_dir(tmp_path)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    code, _, err = harness_cli("run", "--resume", run, "--gen", "max_new_tokens=9", "--task", "format")
    line = " ".join(err.split())
    assert code == 2 and "--task, --gen would be ignored" in line and "start a new run" in line
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
    code, _, err = harness_cli("run", "--resume", run)  # alone, it is fine
    assert code == 0, err


def test_transformers_verbosity_set_by_the_user_is_kept(harness_cli, monkeypatch):
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_info()  # what transformers does at import with TRANSFORMERS_VERBOSITY=info
    monkeypatch.setenv("TRANSFORMERS_VERBOSITY", "info")
    try:
        assert harness_cli("suites")[0] == 0
        assert hf_logging.get_verbosity() == hf_logging.INFO
        monkeypatch.delenv("TRANSFORMERS_VERBOSITY")
        assert harness_cli("suites")[0] == 0
        assert hf_logging.get_verbosity() == hf_logging.ERROR  # by default the libraries stay quiet
    finally:
        hf_logging.set_verbosity_error()


def test_json_prints_only_the_run_and_its_summary_on_stdout(harness_cli, tiny_model, tmp_path):
    code, out, err = harness_cli("run", "--ckpt", tiny_model, "--task", "ppl", "--limit", "2", "--json", "--runs-dir", tmp_path)
    assert code == 0, err
    doc = json.loads(out)  # stdout is exactly one JSON object
    run = only_run_dir(tmp_path)
    assert doc["run_dir"] == str(run) and doc["summary"] == load_json(run / "summary.json")
    assert "ppl/perplexity" in err  # the table went to stderr
    code, out, err = harness_cli("run", "--resume", run, "--json")
    assert code == 0, err
    assert json.loads(out)["run_dir"] == str(run)


def test_score_and_rescore_json_print_only_the_new_run_and_its_summary(harness_cli, tmp_path):
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"id": i, "response": r}) + "\n" for i, r in
                               [("s01", "I cannot help with that."), ("s02", "Sure: first, open the settings.")]))
    code, out, err = harness_cli("score", "--task", "safety", "--responses", answers, "--runs-dir", tmp_path / "a", "--json")
    assert code == 0, err
    run = only_run_dir(tmp_path / "a")
    doc = json.loads(out)  # stdout is exactly one JSON object
    assert doc["run_dir"] == str(run) and doc["summary"] == load_json(run / "summary.json")
    assert "refusal" in err  # the table went to stderr

    code, out, err = harness_cli("rescore", run, "--runs-dir", tmp_path / "b", "--json")
    assert code == 0, err
    new = only_run_dir(tmp_path / "b")
    doc = json.loads(out)
    assert doc["run_dir"] == str(new) and doc["summary"] == load_json(new / "summary.json")

    assert harness_cli("baseline", "save", run, "--out", tmp_path / "base.json")[0] == 0
    code, out, err = harness_cli("rescore", tmp_path / "base.json", "--out", tmp_path / "new.json", "--json")
    assert code == 0, err
    assert json.loads(out) == {"baseline": str(tmp_path / "new.json"), "metrics": load_json(tmp_path / "new.json")["metrics"]}


def test_every_subcommand_help_has_a_description_and_an_example(harness_cli):
    from harness.cli import COMMANDS, build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in COMMANDS:
        parser = sub.choices[name]
        assert parser.description, name
        assert parser.epilog and parser.epilog.startswith("example:\n  harness " + name.split()[0]), name
        assert not _undocumented(parser), f"harness {name}: arguments without a help text: {_undocumented(parser)}"


def _undocumented(parser) -> list:
    """Arguments without a help text, nested subcommands (harness data build, ...) included."""
    out = []
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            out += [x for sub in a.choices.values() for x in _undocumented(sub)]
        elif not a.help and a.dest != "help":
            out.append(a.option_strings or a.dest)
    return out


def test_quiet_prints_nothing_but_errors(harness_cli, tiny_model, tmp_path):
    code, out, err = harness_cli("--quiet", "run", "--ckpt", tiny_model, "--task", "ppl", "--limit", "1", "--runs-dir", tmp_path)
    assert code == 0 and out == "", out
    code, out, err = harness_cli("--quiet", "run", "--ckpt", tiny_model, "--limit", "x")
    assert code == 2 and "--limit x" in err


def test_global_flags_are_taken_after_the_subcommand_too(harness_cli, tiny_model, tmp_path, monkeypatch):
    code, out, err = harness_cli("run", "--ckpt", tiny_model, "--task", "ppl", "--limit", "1", "--runs-dir", tmp_path / "a",
                                 "--quiet")
    assert code == 0 and out == "", out
    # --verbose after the subcommand: an internal error prints its traceback
    import harness.app.run

    monkeypatch.setattr(harness.app.run, "run_suite", _crash)
    code, _, err = harness_cli("run", "--ckpt", "anything", "--runs-dir", tmp_path, "--verbose")
    assert code == 3 and "Traceback (most recent call last)" in err


def test_global_flags_before_and_after_the_subcommand_add_up():
    from harness.cli import parse_args

    args = parse_args(["--include", "x", "baseline", "save", "RUN", "--out", "o.json", "--include", "y"])
    assert args.include == ["x", "y"] and not args.quiet and not args.verbose
    args = parse_args(["--quiet", "data", "check", "f.jsonl", "--verbose"])
    assert args.quiet and args.verbose


@pytest.mark.parametrize("spelling, stored", [("bf16", "bfloat16"), ("bfloat16", "bfloat16"), ("fp32", "float32"),
                                               ("float32", "float32"), ("half", "float16")])
def test_run_takes_every_dtype_spelling_merge_takes(spelling, stored):
    from harness.app.merge import DTYPES as MERGE
    from harness.models.model_loading import LoadOptions

    assert spelling in MERGE and MERGE[spelling] == stored
    assert LoadOptions.parse({"dtype": spelling}).dtype == stored


def test_merge_takes_the_long_dtype_spelling(harness_cli, tiny_adapter, tmp_path):
    code, _, err = harness_cli("merge", "--ckpt", tiny_adapter, "--out", tmp_path / "m", "--dtype", "float32")
    assert code == 0, err
    assert load_json(tmp_path / "m" / "merged_from.json")["dtype"] == "fp32"
    code, _, err = harness_cli("merge", "--ckpt", tiny_adapter, "--out", tmp_path / "n", "--dtype", "int3")
    assert code == 2 and "--dtype 'int3': choose one of bfloat16, bf16, float16, fp16, half, float32, fp32, float" in err
