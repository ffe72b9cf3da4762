"""The demo's training data is the output of a recipe over committed sources, and stays clean:
the committed files are exactly what the recipe builds, and no evaluation prompt is trained on."""

from __future__ import annotations

import json

from conftest import REPO
from datapipe.build import build
from datapipe.recipe import load_recipe

DATA = REPO / "trainers" / "data"


def rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_committed_demo_data_is_what_the_recipe_builds(tmp_path):
    recipe = load_recipe(DATA / "demo_recipe.yaml")
    assert recipe.output.dir.resolve() == (DATA / "demo").resolve()
    build(recipe, tmp_path / "demo")
    for name in ("train.jsonl", "validation.jsonl", "build_report.json"):
        assert (tmp_path / "demo" / name).read_bytes() == (DATA / "demo" / name).read_bytes(), (
            f"{name} differs: rebuild with `harness data build trainers/data/demo_recipe.yaml` and commit")
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == sorted(p.name for p in (DATA / "demo").iterdir())


def test_the_demo_config_trains_on_the_recipe_output():
    from trainers.config import load_train_config
    from trainers.conversations import train_validation
    from trainers.demo import DEMO_CONFIG

    config = load_train_config(str(DEMO_CONFIG))
    train, validation = train_validation(config.data, config.seed)
    assert (len(train), len(validation)) == (320, 40)
    assert validation == [r["messages"] for r in rows(DATA / "demo" / "validation.jsonl")]


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def test_no_evaluation_prompt_is_in_the_demo_data():
    evaluated = set()
    for name in ("format.jsonl", "safety.jsonl", "compare10.jsonl", "ppl_val.jsonl"):
        for row in rows(REPO / "suites" / "data" / name):
            texts = [row["prompt"]] if "prompt" in row else [m["content"] for m in row["messages"] if m["role"] == "user"]
            evaluated.update(_norm(t) for t in texts)
    demo = rows(DATA / "demo" / "train.jsonl") + rows(DATA / "demo" / "validation.jsonl")
    trained = {_norm(m["content"]) for r in demo for m in r["messages"] if m["role"] == "user"}
    assert len(trained) == 360 and not trained & evaluated


def _not_json(name: str):
    raise ValueError(f"{name} is not JSON (RFC 8259)")


def test_demo_json_answers_are_strict_json():
    demo = rows(DATA / "demo" / "train.jsonl") + rows(DATA / "demo" / "validation.jsonl")
    answers = [r["messages"][-1]["content"] for r in demo if "json" in r["tags"]]
    assert len(answers) == 162
    for answer in answers:
        # the whole answer is one JSON value: no fence, no prose, and no NaN/Infinity (which
        # json.loads takes by default but RFC 8259 does not)
        json.loads(answer, parse_constant=_not_json)
        assert answer == answer.strip() and "```" not in answer
