"""Parsing and validation of messy model answers: every drop reason, and the shapes that must still parse."""

from __future__ import annotations

import json

import pytest

from embedder.synth import validate as v
from embedder.synth.validate import LanguageChecker, Rejected, extract_json, parse_tasks, to_row

GOOD = {
    "text": "The train leaves at noon.",
    "paraphrase": "At twelve o'clock the train departs.",
    "different_meaning": "The train arrived at noon.",
}


class FakeChecker(LanguageChecker):
    """Language 'detection' by a marker word, so the reason is tested without lingua's thresholds."""

    def detect(self, text: str) -> str | None:
        return "de" if "der" in text.casefold().split() else "en"


def _reason(raw: str, family: str = "sts", language: str = "en", finish: str | None = "stop", checker=None) -> str:
    with pytest.raises(Rejected) as info:
        to_row(raw, family, "Retrieve semantically similar text.", language, {}, checker, finish)
    return info.value.reason


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(GOOD),
        "Sure! Here is the example:\n```json\n" + json.dumps(GOOD, indent=2) + "\n```\nHope it helps.",
        "{'text': 'The train leaves at noon.', 'paraphrase': \"At twelve o'clock the train departs.\", "
        "'different_meaning': 'The train arrived at noon.',}",
        'Output: {"text": "The train leaves at noon.", "paraphrase": "At twelve o\'clock the train departs.", '
        '"different_meaning": "The train arrived at noon.",} and {"more": 1}',
    ],
    ids=["plain", "fenced-with-prose", "python-literal-trailing-comma", "json-trailing-comma-in-prose"],
)
def test_messy_but_complete_answers_parse(raw):
    row = to_row(raw, "sts", "Retrieve semantically similar text.", "en", {"difficulty": "college"}, None)
    assert (row["query"], row["positive"], row["negative"]) == (
        GOOD["text"],
        GOOD["paraphrase"],
        GOOD["different_meaning"],
    )
    assert set(row) == {"family", "task", "language", "query", "positive", "negative", "meta"}


def test_keys_split_over_several_objects_are_merged():
    raw = "\n\n".join(json.dumps({k: val}) for k, val in GOOD.items()) + "\nThese are the sentences."
    row = to_row(raw, "sts", "Retrieve semantically similar text.", "en", {}, None)
    assert row["negative"] == GOOD["different_meaning"]


def test_repeated_keys_keep_their_first_value():
    looped = json.dumps(GOOD)[:-1] + ', "text": "x", "paraphrase": "x", "different_meaning": "x"}'
    assert to_row(looped, "sts", "t", "en", {}, None)["positive"] == GOOD["paraphrase"]


def test_not_json():
    assert _reason("I cannot write that example, sorry.") == v.NOT_JSON
    assert _reason("{this is: not, json at all}") == v.NOT_JSON


def test_truncated_by_open_brace_or_token_limit():
    assert _reason('{"text": "The train leaves at noon.", "paraphrase": "At twelve o') == v.TRUNCATED
    assert _reason("Let me think about which sentences to", finish="length") == v.TRUNCATED


def test_missing_keys_and_non_text_values():
    assert _reason(json.dumps({"text": "a b c", "paraphrase": "d e f"})) == v.MISSING_KEYS
    assert _reason(json.dumps({**GOOD, "different_meaning": ["a", "list"]})) == v.MISSING_KEYS
    assert _reason(json.dumps({"query": "q", "positive": "p"}), family="short-long") == v.MISSING_KEYS


def test_empty_values():
    assert _reason(json.dumps({**GOOD, "paraphrase": "   "})) == v.EMPTY


def test_placeholders_echoing_the_format_are_dropped():
    assert (
        _reason(json.dumps({"text": "text", "paraphrase": "paraphrase", "different_meaning": "different_meaning"}))
        == v.PLACEHOLDER
    )
    assert _reason(json.dumps({**GOOD, "paraphrase": "S1-S3-S4 (4.5)"})) == v.PLACEHOLDER
    assert _reason(json.dumps({**GOOD, "different_meaning": "42"})) == v.PLACEHOLDER
    assert _reason(json.dumps({"text": "A2D1", "paraphrase": "A2D2", "different_meaning": "A2D3"})) == v.PLACEHOLDER
    assert to_row(
        json.dumps({**GOOD, "different_meaning": "猫が寝ている"}), "sts", "t", "en", {}, None
    )  # CJK words pass


def test_positive_equals_negative_after_normalising():
    assert _reason(json.dumps({**GOOD, "different_meaning": "  at twelve o'clock the TRAIN departs"})) == v.SAME_TEXT


def test_query_copied_into_positive():
    assert _reason(json.dumps({**GOOD, "paraphrase": GOOD["text"]})) == v.QUERY_COPIED


def test_wrong_language_per_field_and_pairs():
    german = {**GOOD, "paraphrase": "Um zwölf Uhr fährt der Zug ab."}
    assert _reason(json.dumps(german), checker=FakeChecker()) == v.WRONG_LANGUAGE
    # bitext en->de: the German positive is right, an English negative is not
    bitext = {"text": GOOD["text"], "translation": german["paraphrase"], "wrong_translation": "The train came at noon."}
    assert _reason(json.dumps(bitext), family="bitext", language="en->de", checker=FakeChecker()) == v.WRONG_LANGUAGE
    ok = to_row(
        json.dumps({**bitext, "wrong_translation": "Der Zug kam um der Mittag an."}),
        "bitext",
        "Retrieve parallel sentences.",
        "en->de",
        {},
        FakeChecker(),
    )
    assert ok["language"] == "en->de"


def test_lingua_checker_flags_confident_mismatch_and_passes_short_text():
    checker = LanguageChecker(["de", "en"], common=False)  # two models load fast; the real run adds more
    assert checker.wrong("Der Zug nach Berlin fährt heute wegen Bauarbeiten erst um zwölf Uhr ab.", "en") == "de"
    assert checker.wrong("The train to Berlin leaves at noon today because of engineering works.", "en") is None
    assert checker.wrong("OK", "de") is None  # too short to judge


def test_long_short_labels_are_not_language_checked():
    raw = json.dumps(
        {
            "input_text": "Der Zug nach Berlin fährt heute erst um zwölf Uhr ab.",
            "label": "travel",
            "misleading_label": "sport",
        }
    )
    row = to_row(raw, "long-short", "Classify a notice by topic.", "de", {}, FakeChecker())
    assert row["positive"] == "travel"


def test_extract_list_and_brainstorm_fallbacks():
    assert extract_json('Tasks: ["a", "b"]', list) == ["a", "b"]
    numbered = (
        "Here you go:\n1. Given a recipe question, retrieve recipes that answer it.\n"
        "2. Given a bug title, find duplicate bug reports.\n"
    )
    assert parse_tasks(numbered, "short-long") == [
        "Given a recipe question, retrieve recipes that answer it.",
        "Given a bug title, find duplicate bug reports.",
    ]
    cut = '["Given a symptom, retrieve articles on possible causes.", "Given a law, retrieve cour'
    assert parse_tasks(cut, "short-long", "length") == ["Given a symptom, retrieve articles on possible causes."]
    with pytest.raises(Rejected) as info:
        parse_tasks("no list here", "short-long")
    assert info.value.reason == v.BAD_TASK_LIST
