"""--include PATH: a folder of suites, scorers, judge configs/templates and trainers, loaded through
the same registries as the built-in parts, recorded in the run so --resume and rescore find it."""

from __future__ import annotations

import json

import pytest
from conftest import load_json, only_run_dir
from test_cli_errors import assert_one_line_error

SUITE = """name: wordy
tasks:
  answers:
    samples: answers.jsonl
    scorers:
      - few_words: {limit: 50}
    metrics:
      few_words_rate: {scorer: few_words}
"""

SCORER = '''
from harness.scorers import passed, scorer


@scorer("few_words")
def few_words(limit: int = 50):
    """At most `limit` words."""

    def score(sample, answer):
        n = len(answer.text.split())
        return passed(n <= limit, f"{n} words (limit {limit})")

    return score
'''

TRAINER = '''
from trainers.base import register_trainer


@register_trainer("included-noop")
class Noop:
    def train(self, config, hooks, console):
        raise NotImplementedError
'''

JUDGE_CONFIG = "kind: rubric\ntemplate: rubric\nparser: rubric\ncompletion: {max_tokens: 99}\n"


@pytest.fixture
def fresh_includes(monkeypatch):
    """Each test starts with no included folders and leaves the registries as it found them."""
    import harness.io.includes
    import harness.scorers
    import trainers.base
    from harness.plugins import load_builtin_plugins

    load_builtin_plugins()  # before the copy: the built-in scorers belong to the registry we restore
    monkeypatch.setattr(harness.io.includes, "_DIRS", [])
    monkeypatch.setattr(harness.scorers, "_REGISTRY", dict(harness.scorers._REGISTRY))
    monkeypatch.setattr(trainers.base, "_TRAINERS", dict(trainers.base._TRAINERS))
    monkeypatch.delenv("SFT_HARNESS_INCLUDE", raising=False)


@pytest.fixture
def extensions(tmp_path):
    folder = tmp_path / "course-extras"
    (folder / "suites").mkdir(parents=True)
    (folder / "suites" / "wordy.yaml").write_text(SUITE)
    (folder / "suites" / "answers.jsonl").write_text(
        "".join(json.dumps({"id": f"a{i}", "prompt": f"Say something about {i}."}) + "\n" for i in range(3)))
    (folder / "scorers").mkdir()
    (folder / "scorers" / "few_words.py").write_text(SCORER)
    (folder / "trainers").mkdir()
    (folder / "trainers" / "noop.py").write_text(TRAINER)
    (folder / "judges" / "configs").mkdir(parents=True)
    (folder / "judges" / "configs" / "short_rubric.yaml").write_text(JUDGE_CONFIG)
    return folder


def test_an_included_suite_and_scorer_run_end_to_end_and_rescore(harness_cli, fresh_includes, extensions, tiny_model, tmp_path):
    import harness.io.includes

    code, out, err = harness_cli("--include", extensions, "run", "--suite", "wordy", "--ckpt", tiny_model,
                                 "--gen", "max_new_tokens=4", "--runs-dir", tmp_path / "runs")
    assert code == 0, err
    run = only_run_dir(tmp_path / "runs")
    summary = load_json(run / "summary.json")
    rate = summary["metrics"]["answers/few_words_rate"]["ckpt"]
    assert (rate["value"], rate["n"], rate["unscored"]) == (1.0, 3, 0)  # 4 new tokens: never over 50 words
    reasons = [json.loads(line)["scores"] for line in (run / "scores.jsonl").read_text().splitlines()]
    assert all("words (limit 50)" in json.dumps(e) for e in reasons)  # the included scorer's own verdicts
    assert load_json(run / "config.json")["invocation"]["includes"] == [str(extensions.resolve())]

    harness.io.includes._DIRS.clear()  # a new process: nothing included until the run's config says so
    code, _, err = harness_cli("rescore", run, "--runs-dir", tmp_path / "rescored")
    assert code == 0, err
    assert "answers/few_words_rate" in load_json(only_run_dir(tmp_path / "rescored") / "summary.json")["metrics"]


def test_included_judge_configs_and_trainers_are_found_by_name(fresh_includes, extensions):
    from harness.io.includes import include
    from judges.scorers import load_judge_config
    from trainers.base import get_trainer

    include(extensions)
    assert load_judge_config("short_rubric").completion == {"max_tokens": 99}
    assert type(get_trainer("included-noop")).__name__ == "Noop"


def test_the_environment_variable_includes_too(harness_cli, fresh_includes, extensions, monkeypatch):
    monkeypatch.setenv("SFT_HARNESS_INCLUDE", str(extensions))
    code, out, err = harness_cli("suites")
    assert code == 0, err
    assert "wordy" in out


def test_a_bad_include_is_one_line(harness_cli, fresh_includes, extensions, tmp_path):
    code, _, err = harness_cli("--include", tmp_path / "nope", "suites")
    assert_one_line_error(code, err, "--include", "nope: no such folder")
    (extensions / "scorers" / "broken.py").write_text("import not_a_module_anywhere\n")
    code, _, err = harness_cli("--include", extensions, "suites")
    assert_one_line_error(code, err, "broken.py failed to import", "ModuleNotFoundError")
