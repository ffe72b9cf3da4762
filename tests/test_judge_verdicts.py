"""Verdict parsing: strict about the format, tolerant of case, spacing, full-width and zero-width."""

from __future__ import annotations

import pytest

from judges.prompt_templates import language_of, load_template, template_for, template_hashes
from judges.verdicts import parse_pairwise, parse_refusal, parse_rubric

RUBRIC_OK = "instruction_following: 7\nformat_compliance: 9\nsafety: 10\nfluency: 8\nReason: clear and correct."


@pytest.mark.parametrize("reply, expected", [
    ("Reason: A is complete.\nVerdict: [[A]]", "a"),
    ("Verdict: [[B]]", "b"),
    ("Reason: same.\nVerdict: [[tie]]", "tie"),
    ("  verdict :   [[ b ]]   ", "b"),  # case and spacing
    ("VERDICT: [[TIE]]", "tie"),
    ("Ｒｅａｓｏｎ： ｏｋ\nＶｅｒｄｉｃｔ：［［Ａ］］", "a"),  # full-width
    ("Ver\u200bdict: [[\u200bB]]\ufeff", "b"),  # zero-width characters
    ("<think>A or B? A seems better... Verdict: [[B]]</think>\nVerdict: [[A]]", "a"),  # thinking ignored
    ("Reason: B is wrong\r\nVerdict: [[A]]\r\n", "a"),
])
def test_pairwise_verdicts_that_parse(reply, expected):
    verdict = parse_pairwise(reply)
    assert verdict.ok, verdict.error
    assert verdict.value == expected


@pytest.mark.parametrize("reply, why", [
    ("", "empty reply"),
    ("Both answers are lovely!", "no 'Verdict:"),
    ("Verdict: A", "is not 'Verdict:"),
    ("Verdict: [[C]]", "is not 'Verdict:"),
    ("**Verdict**: [[A]]", "no 'Verdict:"),  # markdown is not the asked format
    ("Verdict: [[A]]\nVerdict: [[B]]", "2 'Verdict:' lines"),
    ("Verdict: [[A]] because it is longer", "is not 'Verdict:"),
    ("<think>still thinking, Verdict: [[A]]", "no answer after the thinking"),
])
def test_pairwise_replies_that_do_not_parse(reply, why):
    verdict = parse_pairwise(reply)
    assert not verdict.ok and verdict.value is None
    assert why in verdict.error


def test_reason_is_kept_with_its_case():
    assert parse_pairwise("Reason: Answer A follows the JSON format.\nVerdict: [[A]]").reason == "Answer A follows the JSON format."
    assert parse_pairwise("Verdict: [[A]]").reason == ""


def test_rubric_scores():
    v = parse_rubric(RUBRIC_OK)
    assert v.ok and v.value == {"instruction_following": 7, "format_compliance": 9, "safety": 10, "fluency": 8}
    assert v.reason == "clear and correct."
    wide = "ＩＮＳＴＲＵＣＴＩＯＮ_ＦＯＬＬＯＷＩＮＧ：７\nformat compliance: 9/10\nSafety:10\n fluency :  1 "
    assert parse_rubric(wide).value == {"instruction_following": 7, "format_compliance": 9, "safety": 10, "fluency": 1}


@pytest.mark.parametrize("reply, why", [
    (RUBRIC_OK.replace("fluency: 8", ""), "no 'fluency: <1-10>' line"),
    (RUBRIC_OK.replace("fluency: 8", "fluency: 8.5"), "whole number"),
    (RUBRIC_OK.replace("fluency: 8", "fluency: good"), "whole number"),
    (RUBRIC_OK.replace("safety: 10", "safety: 11"), "outside 1-10"),
    (RUBRIC_OK.replace("safety: 10", "safety: 0"), "outside 1-10"),
    (RUBRIC_OK + "\nfluency: 3", "2 'fluency:' lines"),
    ("I'd rate it highly overall.", "no 'instruction_following"),
])
def test_rubric_replies_that_do_not_parse(reply, why):
    v = parse_rubric(reply)
    assert not v.ok and why in v.error


def test_refusal_labels():
    assert parse_refusal("Reason: declines.\nLabel: [[full_refusal]]").value == "full_refusal"
    assert parse_refusal("label: [[ Partial_Refusal ]]").value == "partial_refusal"
    assert parse_refusal("Ｌａｂｅｌ：［［ｃｏｍｐｌｉａｎｃｅ］］").value == "compliance"
    assert not parse_refusal("Label: [[refused]]").ok
    assert not parse_refusal("Label: full_refusal").ok


def test_templates_pick_the_language_and_fill_slots_once():
    assert language_of("用三句话介绍量子计算") == "zh" and language_of("Translate this") == "en"
    t = template_for("pairwise", "写一首诗")
    assert t.name == "pairwise.zh"
    messages = t.render(question="写一首诗", answer_a="an answer quoting {{answer_b}}", answer_b="B!")
    user = messages[1]["content"]
    assert "an answer quoting {{answer_b}}" in user  # not substituted a second time
    assert "B!" in user and "{{" not in user.replace("{{answer_b}}", "")
    assert messages[0]["role"] == "system" and messages[0]["content"]
    for kind in ("pairwise", "rubric", "refusal"):
        for lang in ("en", "zh"):
            load_template(kind, lang)  # every template file has both sections
    assert len(template_hashes()) == 6 and all(len(h) == 16 for h in template_hashes().values())


# ---- the parser registry: a judge config names a registered parser of its kind ---------------
def _config(tmp_path, body: str):
    path = tmp_path / "my-judge.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_a_registered_parser_is_what_a_judge_config_names(tmp_path):
    from judges.scorers import load_judge_config
    from judges.verdicts import PARSERS, Verdict, verdict_parser

    @verdict_parser("yes_no_refusal", kind="refusal")
    def yes_no(reply: str) -> Verdict:
        return Verdict("full_refusal" if reply.strip().lower().startswith("yes") else "compliance")

    try:
        config = load_judge_config(str(_config(tmp_path, "kind: refusal\ntemplate: refusal\nparser: yes_no_refusal\n")))
        assert config.parser == "yes_no_refusal"
        assert PARSERS[config.parser].parse("Yes, it refused").value == "full_refusal"
    finally:
        del PARSERS["yes_no_refusal"]


def test_a_judge_config_with_an_unknown_parser_or_one_of_another_kind_is_refused(tmp_path):
    from harness.errors import HarnessError
    from judges.scorers import load_judge_config

    with pytest.raises(HarnessError, match="parser 'nope' is not registered .*known: pairwise, refusal, rubric"):
        load_judge_config(str(_config(tmp_path, "kind: refusal\ntemplate: refusal\nparser: nope\n")))
    with pytest.raises(HarnessError, match="parser 'rubric' returns rubric verdicts, not pairwise"):
        load_judge_config(str(_config(tmp_path, "kind: pairwise\ntemplate: pairwise\nparser: rubric\n")))


def test_a_parser_name_registered_twice_is_refused():
    from judges.verdicts import Verdict, verdict_parser

    with pytest.raises(ValueError, match="'pairwise' is registered twice"):
        @verdict_parser("pairwise", kind="pairwise")
        def other(reply: str) -> Verdict:
            return Verdict("a")
