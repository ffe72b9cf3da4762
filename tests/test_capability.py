"""Capability tasks (kind: capability): lm-evaluation-harness tasks run through the harness, base
vs checkpoint, without a hub: the local lm-eval tasks of suites/lm_eval_tasks (multiple choice,
generation with a regex filter and exact match) and tasks written here over local JSONL."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from conftest import REPO, load_json, only_run_dir, scored_records
from test_cli_errors import assert_one_line_error

pytest.importorskip("lm_eval")

LOCAL_TASKS = REPO / "suites" / "lm_eval_tasks"


def test_a_capability_run_records_every_document_and_pairs_base_with_checkpoint(harness_cli, tiny_adapter, tmp_path):
    code, out, err = harness_cli("run", "--suite", "capabilities_local", "--ckpt", tiny_adapter, "--limit", "capability=6",
                                 "--runs-dir", tmp_path)
    assert code == 0, err
    run = only_run_dir(tmp_path)
    records = scored_records(run)
    ids = {(r["role"], r["id"]) for r in records}
    assert ids == {(role, f"{t}/{i}") for role in ("base", "ckpt") for t in ("local_mc", "local_gen") for i in range(6)}
    mc = next(r for r in records if r["id"] == "local_mc/0" and r["role"] == "base")
    assert mc["sample"]["doc"]["question"] == "What color is the sky on a clear day?" and mc["sample"]["target"] == 0
    assert mc["prompt"] == "Question: What color is the sky on a clear day?\nAnswer:"
    assert set(mc["scores"]) == {"acc", "acc_norm"}  # lm-eval's verdicts, one score each
    assert mc["scores"]["acc"]["value"] == mc["lm_eval"]["metrics"]["acc"]
    # the likeliest choice is the answer exactly when acc is 1 (lm-eval's rule, on our log-likelihoods)
    lls = [r[0] for r in mc["lm_eval"]["filtered_resps"]]
    assert mc["scores"]["acc"]["value"] == float(lls.index(max(lls)) == 0)
    gen = next(r for r in records if r["id"] == "local_gen/0" and r["role"] == "ckpt")
    assert gen["lm_eval"]["filter"] == "number" and set(gen["scores"]) == {"exact_match"}
    assert gen["prompt"].count("Question:") == 3  # two few-shot examples, then the question
    assert gen["output"] == gen["lm_eval"]["filtered_resps"][0]  # the number the regex took (or [invalid])

    summary = load_json(run / "summary.json")
    acc = summary["metrics"]["capability/local_mc_acc"]
    for role in ("base", "ckpt"):
        rows = [r["scores"]["acc"]["value"] for r in records if r["role"] == role and r["id"].startswith("local_mc/")]
        assert acc[role]["n"] == 6 and acc[role]["value"] == pytest.approx(sum(rows) / 6)
        assert acc[role]["ci"][0] <= acc[role]["value"] <= acc[role]["ci"][1]
    assert acc["delta"]["n"] == 6 and acc["delta"]["ci"] is not None
    assert set(summary["metrics"]) == {"capability/local_mc_acc", "capability/local_mc_acc_norm",
                                       "capability/local_gen_exact_match"}
    for name in summary["metrics"]:
        assert name in out  # the terminal table shows each, base and checkpoint with the delta
    assert "report.md" in out
    kept = _capabilities_kept(run)
    assert kept.startswith("No capability metric dropped significantly (3 checked") or "Significant drops" in kept
    assert "capability/local_mc_acc " in kept and "paired n=6" in kept


def _capabilities_kept(run: Path) -> str:
    """The lab report's "Capabilities kept" finding for this run."""
    from harness.lab.evidence import LabEvidence, RunEvidence
    from harness.lab.findings import findings
    from harness.rundir import RunDir

    rd = RunDir(run)
    ev = LabEvidence("lab1", "compare10", [], run=RunEvidence(str(run), rd.config(), rd.summary(), rd.scored()))
    found = [f.text for f in findings(ev) if f.topic == "Capabilities kept"]
    assert len(found) == 1
    return found[0]


def test_numbers_agree_with_lm_eval_s_own_hf_model(tiny_model):
    """The same tasks through lm-eval's HFLM and through our BackendLM over HFBackend."""
    import torch
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    from harness.capability import run_entry, task_manager
    from harness.capability_spec import CapabilityMetric, LmEvalEntry
    from harness.models.backends.hf import HFBackend
    from harness.models.checkpoint import resolve_checkpoint

    backend = HFBackend(resolve_checkpoint(str(tiny_model)), device=torch.device("cpu"))
    lm = HFLM(pretrained=backend.model, tokenizer=backend.tokenizer, batch_size=4, device="cpu")
    for entry in (LmEvalEntry("local_mc", 8, 0, None, (CapabilityMetric("acc"), CapabilityMetric("acc_norm"))),
                  LmEvalEntry("local_gen", 5, 2, "number", (CapabilityMetric("exact_match"),))):
        manager = task_manager(LOCAL_TASKS, [entry.name])
        ours = {r.id: r for r in run_entry(backend, entry, role="ckpt", model="m", task_name="capability",
                                           include=LOCAL_TASKS, batch_size=3)}
        theirs = simple_evaluate(model=lm, tasks=[entry.name], num_fewshot=entry.num_fewshot, limit=entry.limit,
                                 task_manager=manager, log_samples=True, bootstrap_iters=0)
        docs = {f"{entry.name}/{d['doc_id']}": d for d in theirs["samples"][entry.name]
                if d["filter"] == (entry.filter or "none")}
        assert set(docs) == set(ours)
        for key, doc in docs.items():
            for m in entry.metrics:
                assert ours[key].lm_eval["metrics"][m.name] == doc[m.name], (key, m.name)
            if entry.name == "local_mc":
                for (a, greedy_a), (b, greedy_b) in zip([r[0] for r in ours[key].lm_eval["resps"]],
                                                        [r[0] for r in doc["resps"]]):
                    assert a == pytest.approx(b, abs=1e-4) and greedy_a == greedy_b
            else:
                assert ours[key].raw == doc["resps"][0][0]


def _write_task(folder: Path, name: str, rows: list[dict], extra: str = "") -> None:
    """A multiple-choice lm-eval task over a JSONL file in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (folder / f"{name}_data.py").write_text(textwrap.dedent(f"""\
        import json
        from pathlib import Path

        def load(**kwargs):
            from datasets import Dataset, DatasetDict
            rows = [json.loads(l) for l in (Path(__file__).parent / "{name}.jsonl").read_text().splitlines() if l]
            return DatasetDict({{"test": Dataset.from_list(rows)}})
        """))
    (folder / f"{name}.yaml").write_text(textwrap.dedent(f"""\
        task: {name}
        custom_dataset: !function {name}_data.load
        test_split: test
        output_type: multiple_choice
        doc_to_text: "Q: {{{{question}}}}\\nA:"
        doc_to_choice: "{{{{choices}}}}"
        doc_to_target: answer
        metric_list:
          - metric: acc
        metadata:
          version: 1.0
        """) + extra)


def _suite(path: Path, tasks: str, include: str = "tasks") -> Path:
    path.write_text(textwrap.dedent(f"""\
        name: caps
        tasks:
          capability:
            kind: capability
            include: {include}
            lm_eval:
        """) + textwrap.indent(tasks, " " * 6), encoding="utf-8")
    return path


def test_the_gate_fails_on_a_significant_drop(harness_cli, tiny_model, tiny_adapter, tmp_path):
    """A task whose answers are the base model's own likeliest choices, kept where the adapter
    picks another: base 1.0, checkpoint 0.0. Gated against the base model's run, it fails."""
    import torch

    from harness.models.backends.hf import HFBackend
    from harness.models.checkpoint import resolve_checkpoint

    words = ["red", "cat", "sun", "tree", "blue", "dog", "moon", "rock", "fish", "road", "milk", "star"]
    # letters as choices: one token each after the space, so the context decides (on a random model,
    # whole words differ by their token counts far more than an adapter moves them)
    questions = [(f"item {i} {words[i % 12]} {words[(i * 5) % 12]}", ["A", "B", "C", "D"]) for i in range(60)]
    backend = HFBackend(resolve_checkpoint(str(tiny_adapter)), device=torch.device("cpu"))

    def picks(role):
        reqs = [(f"Q: {q}\nA:", f" {c}") for q, cs in questions for c in cs]
        lls = backend.loglikelihood_text(reqs, role=role)
        return [max(range(4), key=lambda k: lls[i * 4 + k][0]) for i in range(len(questions))]

    base, ckpt = picks("base"), picks("ckpt")
    rows = [{"question": q, "choices": cs, "answer": b} for (q, cs), b, c in zip(questions, base, ckpt) if b != c]
    assert len(rows) >= 12, "the adapter should change enough picks for a significant drop"
    _write_task(tmp_path / "tasks", "picks", rows)
    suite = _suite(tmp_path / "caps.yaml", "picks: {metrics: [acc]}\n")
    (tmp_path / "policy.yaml").write_text("suite: caps\nmetrics:\n  capability/picks_acc: {max_drop: 0.05}\n")

    code, _, err = harness_cli("run", "--suite", suite, "--ckpt", tiny_model, "--runs-dir", tmp_path / "a")
    assert code == 0, err
    code, out, err = harness_cli("run", "--suite", suite, "--ckpt", tiny_adapter, "--runs-dir", tmp_path / "b")
    assert code == 0, err
    run = only_run_dir(tmp_path / "b")
    acc = load_json(run / "summary.json")["metrics"]["capability/picks_acc"]
    assert acc["base"]["value"] == 1.0 and acc["ckpt"]["value"] == 0.0
    assert acc["delta"]["value"] == -1.0 and acc["delta"]["significant"]
    assert _capabilities_kept(run).startswith("Significant drops (forgetting): capability/picks_acc.")

    code, out, err = harness_cli("gate", run, "--baseline", only_run_dir(tmp_path / "a"), "--policy", tmp_path / "policy.yaml")
    assert code == 1, out + err
    assert "capability/picks_acc" in out and "significant" in out
    code, out, err = harness_cli("compare", only_run_dir(tmp_path / "a"), run)
    assert code == 0, err
    assert f"Flipped samples: {len(rows)} pass -> fail, 0 fail -> pass" in out  # every document, listed


def test_a_hub_dataset_that_cannot_load_offline_is_one_line_naming_it(harness_cli, tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tmp_path / "tasks"
    folder.mkdir()
    (folder / "arc_copy.yaml").write_text(textwrap.dedent("""\
        task: arc_copy
        dataset_path: allenai/ai2_arc_not_cached_here
        dataset_name: ARC-Challenge
        test_split: test
        output_type: multiple_choice
        doc_to_text: "Question: {{question}}\\nAnswer:"
        doc_to_choice: "{{choices.text}}"
        doc_to_target: "{{choices.label.index(answerKey)}}"
        metric_list:
          - metric: acc
        """))
    suite = _suite(tmp_path / "caps.yaml", "arc_copy: {limit: 5}\n")
    code, _, err = harness_cli("run", "--suite", suite, "--ckpt", tiny_model, "--runs-dir", tmp_path / "runs")
    assert_one_line_error(code, err, "arc_copy", "allenai/ai2_arc_not_cached_here", "Hugging Face hub")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # nothing written


def test_an_unknown_lm_eval_task_is_one_line(harness_cli, tiny_model, tmp_path):
    _write_task(tmp_path / "tasks", "picks", [{"question": "a", "choices": ["x", "y"], "answer": 0}])
    suite = _suite(tmp_path / "caps.yaml", "pick: {metrics: [acc]}\n")
    code, _, err = harness_cli("run", "--suite", suite, "--ckpt", tiny_model, "--runs-dir", tmp_path / "runs")
    assert_one_line_error(code, err, "lm-eval has no task 'pick'", "picks")


@pytest.mark.parametrize("entry, fragment", [
    ("local_mc: {limit: 0}", "limit must be a positive integer"),
    ("local_mc: {shots: 2}", "shots"),
    ("local_mc: {metrics: [{acc: {aggregate: median}}]}", "aggregate (mean or ratio)"),
])
def test_a_bad_capability_entry_names_the_file_and_line(harness_cli, tiny_model, tmp_path, entry, fragment):
    suite = _suite(tmp_path / "caps.yaml", entry + "\n", include=str(LOCAL_TASKS))
    code, _, err = harness_cli("run", "--suite", suite, "--ckpt", tiny_model, "--runs-dir", tmp_path / "runs")
    assert_one_line_error(code, err, f"{suite}:", fragment)


def test_a_backend_without_raw_text_methods_records_the_documents_unscored(tiny_model):
    """Every document is still recorded (so the run says what is missing), unscored with the reason."""
    from harness.capability import run_entry
    from harness.capability_spec import CapabilityMetric, LmEvalEntry
    from harness.scorers import registered_scorers

    from harness.models.backends.base import BackendBase

    class ChatOnly(BackendBase):  # the contract's defaults: no raw-text capability
        name = "chat-only"

    records = run_entry(ChatOnly(), LmEvalEntry("local_mc", 3, 0, None, (CapabilityMetric("acc"),)), role="ckpt",
                        model="m", task_name="capability", include=LOCAL_TASKS, batch_size=2)
    assert [r.id for r in records] == ["local_mc/0", "local_mc/1", "local_mc/2"]
    score = registered_scorers()["lm_eval_metric"].factory(metric="acc")(records[0].sample, records[0])
    assert score.value is None and "chat-only backend has no raw-text loglikelihood_text" in score.reason


def test_the_bundled_model_answers_the_local_tasks(harness_cli, tmp_path):
    code, out, err = harness_cli("run", "--suite", "capabilities_local", "--ckpt", "smollm2-135m-instruct",
                                 "--limit", "capability=8", "--runs-dir", tmp_path)
    assert code == 0, err
    summary = load_json(only_run_dir(tmp_path) / "summary.json")
    assert summary["roles"] == ["ckpt"]
    mc = summary["metrics"]["capability/local_mc_acc"]["ckpt"]
    assert mc["n"] == 8 and mc["value"] > 0.25  # better than chance on easy four-way questions
    assert summary["metrics"]["capability/local_gen_exact_match"]["ckpt"]["n"] == 8
