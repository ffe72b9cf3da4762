"""`harness sweep` (a 2-variant grid on the tiny model), `harness report --lab lab1` built on it,
the default rubric's grade (full marks on the evidence of a complete submission, fewer and the
missing piece named otherwise), `harness grade` (re-grade, tamper check, written answers), and the
report opened in a real headless browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from conftest import load_json, needs
from test_train import CONVS

GRID = "learning_rate=1e-3,1e-2"


def sweep_config(tmp_path, model, **overrides) -> str:
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"messages": c}) + "\n" for c in CONVS))
    config = {
        "model": str(model), "output_dir": str(tmp_path / "unused"),
        "data": {"train": str(data), "val_split": 0.25},
        "lora": {"r": 4, "alpha": 8},
        "per_device_batch_size": 2, "gradient_accumulation_steps": 1, "max_steps": 6, "max_length": 128,
        "learning_rate": 1e-3, "logging_steps": 1, "save_steps": 3, "eval_steps": 3, "gradient_checkpointing": False,
        "rescore": {"suite": "lab1", "tasks": ["ppl"], "max_samples": 2, "final_tasks": ["compare10", "ppl"],
                    "final_gen": {"max_new_tokens": 8}},
    }
    config.update(overrides)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.fixture(scope="module")
def swept(tiny_model, tmp_path_factory):
    """One 2-variant sweep and its lab report, shared by the tests below."""
    from harness.cli import main

    tmp = tmp_path_factory.mktemp("sweep")
    config = sweep_config(tmp, tiny_model)
    assert main(["sweep", "--config", config, "--grid", GRID, "--out", str(tmp / "sw")]) == 0
    assert main(["report", "--lab", "lab1", "--train", str(tmp / "sw" / "lr1e-3"), "--sweep", str(tmp / "sw"),
                 "--out", str(tmp / "report")]) == 0
    return tmp


def items(grade: dict) -> dict[str, dict]:
    return {i["id"]: i for i in grade["items"]}


def test_sweep_trains_each_variant_and_ranks_them_with_cis_and_paired_deltas(swept):
    sw = swept / "sw"
    plan = load_json(sw / "sweep.json")
    assert [(v["name"], v["overrides"], v["status"]) for v in plan["variants"]] == [
        ("lr1e-3", {"learning_rate": "1e-3"}, "done"), ("lr1e-2", {"learning_rate": "1e-2"}, "done")]
    for name, lr in (("lr1e-3", 1e-3), ("lr1e-2", 1e-2)):
        assert yaml.safe_load((sw / name / "train_config.yaml").read_text())["learning_rate"] == lr
        assert (sw / name / "final" / "adapter_config.json").is_file()
    summary = load_json(sw / "sweep_summary.json")
    assert summary["metric"] == "val_loss" and summary["reference"] == "lr1e-3" and not summary["higher_is_better"]
    rows = {v["name"]: v for v in summary["variants"]}
    for v in rows.values():
        lo, hi = v["metric"]["ci"]
        assert lo <= v["metric"]["value"] <= hi and v["metric"]["n"] == 24  # the ppl task's 24 conversations
        assert v["stats"]["trainable_parameters"] > 0 and v["stats"]["tokens_per_second"] > 0
    delta = rows["lr1e-2"]["delta_vs_reference"]
    assert delta["n"] == 24 and delta["ci"][0] <= delta["value"] <= delta["ci"][1]
    assert rows["lr1e-3"]["delta_vs_reference"] is None
    # ranked: lower val_loss first
    values = [v["metric"]["value"] for v in summary["variants"]]
    assert values == sorted(values) and [v["rank"] for v in summary["variants"]] == [1, 2]
    assert (sw / "sweep_loss.png").stat().st_size > 5000


def test_a_finished_sweep_run_again_reruns_nothing(swept, harness_cli):
    sw = swept / "sw"
    before = {p: p.stat().st_mtime for p in sw.glob("*/training_summary.json")}
    code, out, err = harness_cli("sweep", "--config", swept / "config.yaml", "--grid", GRID, "--out", sw)
    assert code == 0, err
    assert out.count("finished earlier, not rerun") == 2
    assert {p: p.stat().st_mtime for p in sw.glob("*/training_summary.json")} == before


def test_another_plan_in_the_same_sweep_dir_is_refused(swept, harness_cli):
    code, _, err = harness_cli("sweep", "--config", swept / "config.yaml", "--grid", "lora.r=4,8", "--out", swept / "sw")
    assert code == 2 and "holds another sweep" in err and "--out" in err


def test_complete_submission_gets_full_marks_on_the_evidence_items(swept):
    grade = load_json(swept / "report" / "grade.json")
    by_id = items(grade)
    assert {k: (v["status"], v["earned"]) for k, v in by_id.items() if v["kind"] == "evidence"} == {
        "loss_curve": ("complete", 20), "prompt_table": ("complete", 20), "sweep": ("complete", 20)}
    assert grade["evidence_earned"] == grade["evidence_max"] == 60
    assert any("matches the training log checkpoint-6/trainer_state.json" in e for e in by_id["loss_curve"]["evidence"])
    assert any("changed: learning_rate (0.001, 0.01)" in e for e in by_id["sweep"]["evidence"])
    # nothing written yet: the written items score 0 and say so, they are not guessed
    assert {v["status"] for v in by_id.values() if v["kind"] == "written"} == {"not written"}


def test_report_folder_has_markdown_html_plots_and_the_lab_prompts(swept):
    rep = swept / "report"
    md = (rep / "report.md").read_text(encoding="utf-8")
    for section in ("## 1. Training loss curve", "## 2. The 10 prompts", "## 3. Hyperparameter experiment", "## 4. Analysis", "## 5. Grade"):
        assert section in md
    assert "![Training loss and checkpoint scores](training_loss.png)" in md and "](sweep_loss.png)" in md
    from conftest import REPO

    lab = [json.loads(x) for x in (REPO / "suites" / "data" / "compare10.jsonl").read_text(encoding="utf-8").splitlines()]
    for p in lab:  # the 10-prompt table: the lab's prompts verbatim, in order
        assert f"| {p['id']} | {p['prompt']} |" in md
    html = (rep / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 2
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "the page must not fetch anything"
    assert "<table>" in html and "<script" not in html
    for png in ("training_loss.png", "sweep_loss.png"):
        assert (rep / png).stat().st_size > 5000
    # the copies the grade was computed from, with their hashes
    grade = load_json(rep / "grade.json")
    assert "train/checkpoint-6/trainer_state.json" in grade["files"] and "sweep/sweep.json" in grade["files"]
    assert all((rep / "evidence" / f).is_file() for f in grade["files"])


def test_report_without_the_sweep_scores_fewer_and_says_how_to_fill_it(swept, harness_cli):
    out = swept / "no-sweep"
    code, stdout, err = harness_cli("report", "--lab", "lab1", "--train", swept / "sw" / "lr1e-3", "--out", out)
    assert code == 0, err
    grade = load_json(out / "grade.json")
    sweep = items(grade)["sweep"]
    assert sweep["status"] == "missing" and sweep["earned"] == 0 and "no hyperparameter sweep" in sweep["missing"][0]
    assert grade["evidence_earned"] == 40 and grade["evidence_max"] == 60
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "*Missing: no sweep was given.*" in md and "harness sweep --config" in md
    assert "no hyperparameter sweep" in stdout


def _copy_training(swept, name: str):
    dst = swept / name
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(swept / "sw" / "lr1e-3", dst, ignore=shutil.ignore_patterns("*.safetensors", "optimizer.pt"))
    return dst


def test_a_loss_curve_that_does_not_match_its_log_scores_zero_naming_the_step(swept, harness_cli):
    train = _copy_training(swept, "edited-curve")
    summary = load_json(train / "training_summary.json")
    summary["train_loss"][2][1] -= 0.5  # a prettier curve than the one trained
    (train / "training_summary.json").write_text(json.dumps(summary))
    code, _, err = harness_cli("report", "--lab", "lab1", "--train", train, "--out", swept / "edited-report")
    assert code == 0, err
    item = items(load_json(swept / "edited-report" / "grade.json"))["loss_curve"]
    step = summary["train_loss"][2][0]
    assert item["status"] == "inconsistent" and item["earned"] == 0
    assert f"at step {step}" in item["inconsistent"][0] and "checkpoint-6/trainer_state.json" in item["inconsistent"][0]


def test_a_sweep_variant_changing_an_unnamed_parameter_is_inconsistent(swept, harness_cli):
    sw = swept / "sw-edited"
    if sw.exists():
        shutil.rmtree(sw)
    shutil.copytree(swept / "sw", sw, ignore=shutil.ignore_patterns("*.safetensors", "optimizer.pt"))
    config = sw / "lr1e-2" / "train_config.yaml"
    config.write_text(config.read_text().replace("seed: 42", "seed: 7"))
    code, _, err = harness_cli("report", "--lab", "lab1", "--train", sw / "lr1e-3", "--sweep", sw, "--out", swept / "sw-edited-report")
    assert code == 0, err
    item = items(load_json(swept / "sw-edited-report" / "grade.json"))["sweep"]
    assert item["status"] == "inconsistent" and item["earned"] == 0
    assert "also differs from lr1e-3 in seed (42 vs 7)" in item["inconsistent"][0]


def test_prompts_that_are_not_the_labs_verbatim_are_inconsistent(swept, harness_cli):
    train = _copy_training(swept, "edited-prompt")
    run = next((train / "evals").glob("*-final-final"))
    rows = [json.loads(x) for x in (run / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    for r in rows:
        if r["task"] == "compare10" and r["id"] == "c04" and r["role"] == "ckpt":
            r["prompt"] = "List three sorting algorithms"
    (run / "samples.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    code, _, err = harness_cli("report", "--lab", "lab1", "--train", train, "--out", swept / "edited-prompt-report")
    assert code == 0, err
    item = items(load_json(swept / "edited-prompt-report" / "grade.json"))["prompt_table"]
    assert item["status"] == "inconsistent" and item["earned"] == 0
    assert item["inconsistent"][0].startswith("c04 (fine-tuned model) was asked 'List three sorting algorithms'")


def test_regrade_recomputes_the_grade_and_flags_an_edited_evidence_file(swept, harness_cli):
    rep = swept / "regrade"
    if rep.exists():
        shutil.rmtree(rep)
    shutil.copytree(swept / "report", rep)
    code, out, err = harness_cli("grade", rep)
    assert code == 0, err
    again = load_json(rep / "regrade.json")
    assert again["evidence_earned"] == 60 and not any(again["tamper"].values()) and "evidence intact" in out
    f = rep / "evidence" / "train" / "training_summary.json"
    summary = load_json(f)
    summary["train_loss"][0][1] += 1.0
    f.write_text(json.dumps(summary))
    code, out, _ = harness_cli("grade", rep)
    assert code == 1
    again = load_json(rep / "regrade.json")
    assert again["tamper"]["changed"] == ["train/training_summary.json"] and "TAMPERED" in out
    assert items(again)["loss_curve"]["status"] == "inconsistent" and again["evidence_earned"] == 40


def test_written_answers_are_left_to_a_person_or_graded_by_the_judge(swept, harness_cli):
    from judge_servers import ScriptedJudge, running

    rep = swept / "written"
    if rep.exists():
        shutil.rmtree(rep)
    shutil.copytree(swept / "report", rep)
    md = (rep / "report.md").read_text(encoding="utf-8")
    answer = "LIMA fine-tuned on about 1,000 curated examples; here 9 conversations taught the format."
    md = md.replace("<!-- answer:data_quality -->\n_Write your answer here (replace this line)._",
                    f"<!-- answer:data_quality -->\n{answer}")
    (rep / "report.md").write_text(md, encoding="utf-8")
    code, _, err = harness_cli("grade", rep)
    assert code == 0, err
    item = items(load_json(rep / "regrade.json"))["data_quality"]
    assert item["status"] == "to be graded by hand" and item["earned"] is None and item["points"] == 10

    class Grader(ScriptedJudge):
        def reply_to(self, prompt: str) -> str:
            return "Score: 7.5\nReason: states LIMA's finding, ties it to the run." if "LIMA fine-tuned" in prompt else "no score"

    with running(Grader()) as url:
        code, _, err = harness_cli("grade", rep, "--judge", url, "--judge-model", "grader", "--judge-cache", swept / "cache")
    assert code == 0, err
    item = items(load_json(rep / "regrade.json"))["data_quality"]
    assert item["status"] == "judged" and item["earned"] == 7.5 and "ties it to the run" in item["reason"]
    # making the report again keeps the written answer
    code, _, err = harness_cli("report", "--lab", "lab1", "--train", swept / "sw" / "lr1e-3", "--sweep", swept / "sw", "--out", rep)
    assert code == 0, err
    assert answer in (rep / "report.md").read_text(encoding="utf-8")


def test_report_html_renders_in_a_headless_browser(swept, tmp_path):
    """Opens report.html in Debian's chromium (.ci/run installs it and requires this test): the page
    is not blank and every image element has loaded; tables render. The network is cut off for the
    browser. Without chromium it skips, saying so (CI fails instead)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        needs("chromium is not installed: the lab report's browser test needs it (apt-get install -y chromium)")
    page = tmp_path / "probe.html"
    probe = ("<script>window.addEventListener('load', () => { const imgs = [...document.images];"
             "document.body.insertAdjacentHTML('beforeend', '<pre id=\"probe\">' + JSON.stringify({images: imgs.length,"
             "loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,"
             "tables: document.querySelectorAll('table').length}) + '</pre>'); });</script>")
    page.write_text((swept / "report" / "report.html").read_text(encoding="utf-8").replace("</body>", probe + "</body>"),
                    encoding="utf-8")
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*flags, "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'<pre id="probe">(\{.*?\})</pre>', dom)  # the result, not the script's own text
    assert m, dom[-2000:]
    probe_result = json.loads(m.group(1).replace("&quot;", '"'))
    assert probe_result["images"] == 2 and probe_result["loaded"] == 2 and probe_result["tables"] >= 5
    shot = tmp_path / "shot.png"
    subprocess.run([*flags, "--window-size=1200,1600", f"--screenshot={shot}", (swept / "report" / "report.html").as_uri()],
                   capture_output=True, timeout=120)
    from PIL import Image

    image = Image.open(shot).convert("L")
    lo, hi = image.getextrema()
    assert image.size == (1200, 1600) and hi - lo > 100  # text and plots, not a blank page
    assert len(image.resize((120, 160)).getcolors(120 * 160)) > 20  # distinct colours: not a blank page
