"""`harness data build`: dedup within and across sources, interleave and resample mixing, the split,
determinism, rejected rows, the outputs (JSONL and Arrow), and bad recipes."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest
import yaml

from datapipe.build import build
from datapipe.recipe import load_recipe
from test_cli_errors import assert_one_line_error


def conv(user: str, assistant: str) -> dict:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]}


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def write_recipe(tmp_path: Path, sources: list[dict], **sections) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({"seed": 3, "sources": sources, **sections}, allow_unicode=True), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def all_rows(out: Path) -> list[dict]:
    return read_jsonl(out / "train.jsonl") + read_jsonl(out / "validation.jsonl")


def pools(tmp_path: Path, sizes: dict[str, int]) -> list[dict]:
    """One JSONL source per name, with distinct conversations."""
    sources = []
    for name, n in sizes.items():
        write_jsonl(tmp_path / f"{name}.jsonl", [conv(f"{name} question {i}", f"answer {i}") for i in range(n)])
        sources.append({"name": name, "path": f"{name}.jsonl"})
    return sources


def test_dedup_within_and_across_sources_keeps_the_first(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [conv("q1", "a1"), conv("q2", "a2"), conv("q1", "a1"), conv("q3", "a3")])
    # b repeats a's q2 (as ShareGPT: equal after normalisation) and has one row of its own
    write_jsonl(tmp_path / "b.jsonl", [{"conversations": [{"from": "human", "value": "q2 "}, {"from": "gpt", "value": "a2"}]},
                                       conv("q4", "a4")])
    recipe = write_recipe(tmp_path, [{"name": "a", "path": "a.jsonl"}, {"name": "b", "path": "b.jsonl"}],
                          split={"valid_ratio": 0.2, "min_valid": 1})
    report = build(load_recipe(recipe), tmp_path / "out")
    a, b = report.sources
    assert (a.read, a.duplicates, a.cross_duplicates, a.unique) == (4, 1, 0, 3)
    assert (b.read, b.duplicates, b.cross_duplicates, b.unique) == (2, 0, 1, 1)
    rows = all_rows(tmp_path / "out")
    assert sorted((r["source"], r["messages"][0]["content"]) for r in rows) == [
        ("a", "q1"), ("a", "q2"), ("a", "q3"), ("b", "q4")]
    assert {r["id"] for r in rows} == {"a-1", "a-2", "a-4", "b-2"}  # default ids: source-line


def test_interleave_with_total_follows_the_weights(tmp_path):
    sources = pools(tmp_path, {"x": 1500, "y": 1500, "z": 1500})
    for s, w in zip(sources, (5, 3, 2)):
        s["weight"] = w
    recipe = write_recipe(tmp_path, sources, mix={"mode": "interleave", "total": 1200})
    report = build(load_recipe(recipe), tmp_path / "out")
    assert sum(s.sampled for s in report.sources) == 1200
    for s, share in zip(report.sources, (0.5, 0.3, 0.2)):
        sd = math.sqrt(1200 * share * (1 - share))
        assert abs(s.sampled - 1200 * share) < 4 * sd, (s.name, s.sampled)
        assert s.train + s.validation == s.sampled
    rows = all_rows(tmp_path / "out")
    assert len({json.dumps(r["messages"]) for r in rows}) == 1200  # without replacement: no row twice


def test_interleave_without_total_uses_every_row_once(tmp_path):
    recipe = write_recipe(tmp_path, pools(tmp_path, {"x": 30, "y": 10}), split={"valid_ratio": 0.25, "min_valid": 0})
    report = build(load_recipe(recipe), tmp_path / "out")
    assert [s.sampled for s in report.sources] == [30, 10]
    assert (report.train, report.validation) == (30, 10)
    assert len({r["messages"][0]["content"] for r in all_rows(tmp_path / "out")}) == 40


def test_resample_gives_exact_counts_and_warns_on_upsampling(tmp_path):
    sources = pools(tmp_path, {"big": 80, "mid": 30, "small": 10})
    for s, w in zip(sources, (0.5, 0.3, 0.2)):
        s["weight"] = w
    recipe = write_recipe(tmp_path, sources, mix={"mode": "resample", "total": 200, "max_upsample": 3})
    report = build(load_recipe(recipe), tmp_path / "out")
    assert [s.sampled for s in report.sources] == [100, 60, 40]
    rows = all_rows(tmp_path / "out")
    assert Counter(r["source"] for r in rows) == {"big": 100, "mid": 60, "small": 40}
    copies = Counter(r["messages"][0]["content"] for r in rows if r["source"] == "small")
    assert sorted(copies.values()) == [4] * 10  # 40 from 10: every row 4 times, none left out
    copies = Counter(r["messages"][0]["content"] for r in rows if r["source"] == "mid")
    assert sorted(copies.values()) == [2] * 30
    assert len(report.warnings) == 1 and report.warnings[0].startswith("small: 40 rows from 10 unique")
    # copies of one row never straddle train and validation
    train = {json.dumps(r["messages"]) for r in read_jsonl(tmp_path / "out" / "train.jsonl")}
    validation = {json.dumps(r["messages"]) for r in read_jsonl(tmp_path / "out" / "validation.jsonl")}
    assert train and validation and not train & validation


def test_resample_downsamples_without_repeats(tmp_path):
    recipe = write_recipe(tmp_path, pools(tmp_path, {"x": 100, "y": 100}), mix={"mode": "resample", "total": 50})
    build(load_recipe(recipe), tmp_path / "out")
    rows = all_rows(tmp_path / "out")
    assert len(rows) == 50 and len({json.dumps(r["messages"]) for r in rows}) == 50


def test_all_zero_weights_mean_equal_shares(tmp_path):
    sources = pools(tmp_path, {"x": 40, "y": 40})
    for s in sources:
        s["weight"] = 0
    recipe = write_recipe(tmp_path, sources, mix={"mode": "resample", "total": 40})
    report = build(load_recipe(recipe), tmp_path / "out")
    assert [s.weight for s in report.sources] == [0.5, 0.5]
    assert [s.sampled for s in report.sources] == [20, 20]


@pytest.mark.parametrize("rows, ratio, floor, expected", [
    (300, 0.02, 100, 100),  # the floor
    (150, 0.02, 100, 75),   # the floor would leave fewer training rows than validation rows: half
    (1000, 0.2, 100, 200),  # the ratio
])
def test_validation_size(tmp_path, rows, ratio, floor, expected):
    recipe = write_recipe(tmp_path, pools(tmp_path, {"x": rows}), split={"valid_ratio": ratio, "min_valid": floor})
    report = build(load_recipe(recipe), tmp_path / "out")
    assert (report.train, report.validation) == (rows - expected, expected)


def test_same_recipe_and_seed_give_byte_identical_files(tmp_path):
    sources = pools(tmp_path, {"x": 60, "y": 40})
    write_jsonl(tmp_path / "y.jsonl", [conv(f"y question {i}", f"answer {i}") for i in range(40)] + ["{oops"])
    recipe = write_recipe(tmp_path, sources, mix={"mode": "resample", "total": 150}, dedup={"near": True})
    first, second = tmp_path / "first", tmp_path / "second"
    build(load_recipe(recipe), first)
    build(load_recipe(recipe), second)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert Path("train/data-00000-of-00001.arrow") in files and Path("rejects.jsonl") in files
    arrow_files = {"data-00000-of-00001.arrow", "dataset_info.json", "state.json"}
    assert {p.name for p in (first / "sources" / "y").iterdir()} == arrow_files  # no stray cache files
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for f in files:
        assert (first / f).read_bytes() == (second / f).read_bytes(), f
    recipe.write_text(recipe.read_text().replace("seed: 3", "seed: 4"))
    build(load_recipe(recipe), tmp_path / "other-seed")
    assert (tmp_path / "other-seed" / "train.jsonl").read_bytes() != (first / "train.jsonl").read_bytes()


def test_bad_rows_are_counted_with_reasons_and_written_to_rejects(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [
        conv("fine", "yes"),
        "not json at all",
        "",  # a blank line is not a row
        conv("empty answer", "   "),
        {"messages": [{"role": "user", "content": "u1"}, {"role": "user", "content": "u2"}, {"role": "assistant", "content": "a"}]},
        {"prompt": "p", "completion": "c"},
        conv("also fine", "yes"),
    ])
    recipe = write_recipe(tmp_path, [{"name": "a", "path": "a.jsonl"}], split={"valid_ratio": 0.5, "min_valid": 1})
    report = build(load_recipe(recipe), tmp_path / "out")
    (a,) = report.sources
    assert (a.read, a.rejected, a.unique) == (6, 4, 2)
    assert a.reasons == {
        "not valid JSON (Expecting value at column N)": 1,
        "message N: empty assistant turn": 1,
        "message N: roles out of order (user after user)": 1,
        "unknown shape (keys: completion, prompt); expected messages, conversations, instruction/output, "
        "or name the columns with format: fields": 1,
    }
    rejects = read_jsonl(tmp_path / "out" / "rejects.jsonl")
    assert [(r["where"].rsplit(":", 1)[1], r["reason"].split(" (")[0]) for r in rejects] == [
        ("2", "not valid JSON"), ("4", "message 1: empty assistant turn"),
        ("5", "message 1: roles out of order"), ("6", "unknown shape")]
    assert rejects[0]["raw"] == "not json at all" and rejects[0]["source"] == "a"
    # every row read is accounted for
    assert a.read == a.rejected + a.duplicates + a.cross_duplicates + a.unique
    saved = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert saved["sources"][0]["rejected"] == 4 and saved["sources"][0]["normalized"] == 2


def test_csv_and_json_array_sources(tmp_path):
    (tmp_path / "qa.csv").write_text('question,answer,note\n"What is 2+2?",4,x\n"multi\nline",ok,\n,missing,\n',
                                     encoding="utf-8")
    (tmp_path / "alpaca.json").write_text(json.dumps([{"instruction": "Say hi", "output": "hi"}, 5]), encoding="utf-8")
    recipe = write_recipe(tmp_path, [
        {"name": "qa", "path": "qa.csv", "format": "fields", "fields": {"user": "question", "assistant": "answer"}},
        {"name": "alp", "path": "alpaca.json"}], split={"valid_ratio": 0.3, "min_valid": 1})
    report = build(load_recipe(recipe), tmp_path / "out")
    qa, alp = report.sources
    assert (qa.read, qa.rejected, alp.read, alp.rejected) == (3, 1, 2, 1)
    users = sorted(r["messages"][0]["content"] for r in all_rows(tmp_path / "out"))
    assert users == ["Say hi", "What is 2+2?", "multi\nline"]
    wheres = [r["where"] for r in read_jsonl(tmp_path / "out" / "rejects.jsonl")]
    assert wheres[0].endswith("qa.csv row 3") and wheres[1].endswith("alpaca.json[1]")


def test_near_duplicates_are_reported_and_dropped_on_request(tmp_path):
    base = "Explain in two sentences why the sky is blue during the day and red at sunset."
    write_jsonl(tmp_path / "a.jsonl", [conv(base, "Rayleigh scattering."), conv("Something else entirely", "ok")])
    write_jsonl(tmp_path / "b.jsonl", [conv(base.replace("two", "2"), "Rayleigh scattering."), conv("Unrelated", "fine")])
    sources = [{"name": "a", "path": "a.jsonl"}, {"name": "b", "path": "b.jsonl"}]
    split = {"valid_ratio": 0.3, "min_valid": 1}
    report = build(load_recipe(write_recipe(tmp_path, sources, split=split, dedup={"near": {"threshold": 0.7}})),
                   tmp_path / "out")
    assert (report.near_duplicate_clusters, report.near_duplicate_rows) == (1, 2)
    (cluster,) = read_jsonl(tmp_path / "out" / "near_duplicates.jsonl")
    assert [(m["source"], m["kept"]) for m in cluster["rows"]] == [("a", True), ("b", True)]
    assert report.train + report.validation == 4  # reported only
    near = {"threshold": 0.7, "drop": True}
    report = build(load_recipe(write_recipe(tmp_path, sources, split=split, dedup={"near": near})), tmp_path / "out2")
    assert [s.near_dropped for s in report.sources] == [0, 1]
    assert report.train + report.validation == 3


def test_arrow_output_loads_with_load_from_disk(tmp_path):
    from datasets import load_from_disk

    write_jsonl(tmp_path / "t.jsonl", [
        conv("plain", "row"),
        {"tools": [{"type": "function", "function": {"name": "f"}}], "messages": [
            {"role": "user", "content": "call f"},
            {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}]},
            {"role": "tool", "content": "done"}, {"role": "assistant", "content": "f is done", "reasoning_content": "r"}]},
        conv("third", "row"), conv("fourth", "row")])
    recipe = write_recipe(tmp_path, [{"name": "t", "path": "t.jsonl", "tags": ["demo"]}],
                          split={"valid_ratio": 0.25, "min_valid": 1})
    build(load_recipe(recipe), tmp_path / "out")
    ds = load_from_disk(str(tmp_path / "out"))
    assert sorted(ds) == ["train", "validation"] and len(ds["train"]) + len(ds["validation"]) == 4
    rows = {r["messages"][0]["content"]: r for split in ds.values() for r in split}
    tool_row = rows["call f"]
    assert tool_row["messages"][1]["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"x": 1}'}
    assert tool_row["messages"][3]["reasoning_content"] == "r" and json.loads(tool_row["tools"])[0]["function"]["name"] == "f"
    # one Arrow type per column: the optional keys the data uses, null where a message lacks them
    assert rows["plain"]["messages"][0] == {"role": "user", "content": "plain", "reasoning_content": None,
                                            "tool_calls": None}
    assert rows["plain"]["tags"] == ["demo"] and rows["plain"]["source"] == "t"
    assert len(load_from_disk(str(tmp_path / "out" / "sources" / "t"))) == 4  # the per-source save


def test_build_command_prints_the_counts_table(harness_cli, tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [conv(f"q{i}", "a") for i in range(10)] + ["{bad"])
    recipe = write_recipe(tmp_path, [{"name": "alpha", "path": "a.jsonl"}], split={"valid_ratio": 0.2, "min_valid": 1})
    code, out, err = harness_cli("data", "build", recipe, "--out", tmp_path / "out")
    assert code == 0, err
    table_row = next(line for line in out.splitlines() if "alpha" in line and "│" in line)
    assert [c.strip() for c in table_row.split("│")[2:-1]] == ["1.000", "11", "1", "10", "0", "0", "10", "10", "8", "2"]
    assert "rejected in alpha: 1 not valid JSON" in out and "wrote 8 train / 2 validation rows" in out


def test_output_directory_defaults_to_the_recipe_output_dir(harness_cli, tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [conv(f"q{i}", "a") for i in range(4)])
    recipe = write_recipe(tmp_path, [{"name": "a", "path": "a.jsonl"}], output={"dir": "built", "arrow": False},
                          split={"valid_ratio": 0.25, "min_valid": 1})
    code, _out, err = harness_cli("data", "build", recipe)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "built").iterdir()) == ["build_report.json", "train.jsonl", "validation.jsonl"]


# --- bad input: one line, exit 2, nothing lost ---------------------------------------------

def test_unknown_recipe_key_names_line_and_valid_keys(harness_cli, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("seed: 1\nsources:\n  - name: a\n    path: a.jsonl\n    wieght: 2\n")
    code, _, err = harness_cli("data", "build", recipe, "--out", tmp_path / "out")
    assert_one_line_error(code, err, "r.yaml:5", "unknown key 'wieght'", "weight")


def test_negative_weight_and_bad_mode(harness_cli, tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [conv("q", "a")])
    recipe = write_recipe(tmp_path, [{"name": "a", "path": "a.jsonl", "weight": -1}])
    code, _, err = harness_cli("data", "build", recipe)
    assert_one_line_error(code, err, "source a.weight must be a number >= 0, got -1")
    recipe = write_recipe(tmp_path, [{"name": "a", "path": "a.jsonl"}], mix={"mode": "shuffle"})
    code, _, err = harness_cli("data", "build", recipe)
    assert_one_line_error(code, err, "mix.mode must be interleave or resample")


def test_a_failed_build_leaves_the_previous_output_intact(harness_cli, tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [conv(f"q{i}", "a") for i in range(4)])
    recipe = write_recipe(tmp_path, [{"name": "a", "path": "a.jsonl"}], split={"valid_ratio": 0.25, "min_valid": 1})
    assert harness_cli("data", "build", recipe, "--out", tmp_path / "out")[0] == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir() if p.is_file()}
    write_jsonl(tmp_path / "a.jsonl", ["nope", conv("q", " ")])  # fails at the mix, after reading
    code, _, err = harness_cli("data", "build", recipe, "--out", tmp_path / "out")
    assert_one_line_error(code, err, "no rows to mix")
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir() if p.is_file()} == before
    (tmp_path / "a.jsonl").unlink()
    code, _, err = harness_cli("data", "build", recipe, "--out", tmp_path / "out")
    assert_one_line_error(code, err, "recipe.yaml:", "source a: file not found", "a.jsonl")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no work folder left


def test_a_line_that_is_not_utf8_is_a_rejected_row(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(json.dumps(conv("cafe", "ok")).encode() + b"\n"
                                       + json.dumps(conv("caf\u00e9", "ok"), ensure_ascii=False).encode("latin-1") + b"\n"
                                       + json.dumps(conv("tea", "ok")).encode() + b"\r\n")
    recipe = write_recipe(tmp_path, [{"name": "a", "path": "a.jsonl"}], split={"valid_ratio": 0.5, "min_valid": 1})
    report = build(load_recipe(recipe), tmp_path / "out")
    assert (report.sources[0].read, report.sources[0].rejected) == (3, 1)
    (reject,) = read_jsonl(tmp_path / "out" / "rejects.jsonl")
    assert reject["where"].endswith("a.jsonl:2") and reject["reason"].startswith("not UTF-8 text")
    assert sorted(r["messages"][0]["content"] for r in all_rows(tmp_path / "out")) == ["cafe", "tea"]


def test_unreadable_json_array_and_csv_are_one_line(harness_cli, tmp_path):
    (tmp_path / "a.json").write_text('[{"instruction": "x", "output": "y"}, oops]', encoding="utf-8")
    recipe = write_recipe(tmp_path, [{"name": "a", "path": "a.json"}])
    code, _, err = harness_cli("data", "build", recipe, "--out", tmp_path / "out")
    assert_one_line_error(code, err, "source a:", "a.json line 1: not valid JSON")
    (tmp_path / "b.csv").write_bytes("q,a\ncaf\u00e9,ok\n".encode("latin-1"))
    recipe = write_recipe(tmp_path, [{"name": "b", "path": "b.csv", "fields": {"user": "q", "assistant": "a"}}])
    code, _, err = harness_cli("data", "build", recipe, "--out", tmp_path / "out")
    assert_one_line_error(code, err, "source b:", "b.csv is not UTF-8 text", "save it as UTF-8")
    assert not (tmp_path / "out").exists()


def test_refuses_to_overwrite_a_directory_it_did_not_write(harness_cli, tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [conv(f"q{i}", "a") for i in range(4)])
    recipe = write_recipe(tmp_path, [{"name": "a", "path": "a.jsonl"}])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    code, _, err = harness_cli("data", "build", recipe, "--out", tmp_path / "mine")
    assert_one_line_error(code, err, "mine exists and is not a `harness data build` output")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


# --- harness train reads a build output directory ------------------------------------------

def test_training_data_from_a_build_output_directory(tmp_path):
    from harness.errors import HarnessError
    from trainers.config import DataSettings
    from trainers.conversations import train_validation

    write_jsonl(tmp_path / "a.jsonl", [conv(f"q{i}", f"a{i}") for i in range(10)])
    recipe = write_recipe(tmp_path, [{"name": "a", "path": "a.jsonl"}], split={"valid_ratio": 0.3, "min_valid": 1})
    build(load_recipe(recipe), tmp_path / "mix")
    train, validation = train_validation(DataSettings(train=str(tmp_path / "mix")), seed=1)
    assert (len(train), len(validation)) == (7, 3)
    assert validation == [r["messages"] for r in read_jsonl(tmp_path / "mix" / "validation.jsonl")]
    with pytest.raises(HarnessError, match="is a directory without train.jsonl"):
        train_validation(DataSettings(train=str(tmp_path)), seed=1)


def test_lab1_mix_recipe_loads_and_needs_the_hub_for_ultrachat(harness_cli, tmp_path):
    from conftest import REPO

    recipe = load_recipe(REPO / "recipes" / "lab1-mix.yaml")
    assert [s.name for s in recipe.sources] == ["ultrachat", "json_answers", "tables"]
    assert (recipe.mix.mode, recipe.mix.total) == ("resample", 8000)
    code, _, err = harness_cli("data", "build", REPO / "recipes" / "lab1-mix.yaml", "--out", tmp_path / "out")
    assert_one_line_error(code, err, "source ultrachat: hub dataset HuggingFaceH4/ultrachat_200k")
    assert not (tmp_path / "out").exists()
