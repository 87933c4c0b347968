"""The E5 recipe's prompts (paraphrased), the attributes it samples, and how each family's JSON maps to a row.

Wang et al. 2024 ("Improving Text Embeddings with Large Language Models") use two steps: brainstorm task
definitions for a family, then write one example per call for a task, with randomly drawn attributes
(query type and length, clarity, document length, difficulty, language) to spread the data out. STS and
bitext have no brainstorm step in the paper (their instruction is fixed); here step 1 brainstorms topics
for them instead so that `--tasks` still spreads examples over subjects.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# CLI name -> the family value written in rows (the shared data spells cross-lingual "xling").
FAMILIES = {
    "short-long": "short-long",
    "long-short": "long-short",
    "short-short": "short-short",
    "long-long": "long-long",
    "sts": "sts",
    "bitext": "bitext",
    "cross-lingual": "xling",
    "xling": "xling",
}
PAIRED = {"bitext", "xling"}
# Default token limit of one answer per family (E5 documents run to 500 words; STS pairs are short).
MAX_TOKENS = {
    "sts": 256,
    "bitext": 256,
    "short-short": 256,
    "long-short": 512,
    "short-long": 1024,
    "xling": 1024,
    "long-long": 1536,
}
BRAINSTORM_MAX_TOKENS = 384  # query in one language, documents in another
FIXED_TASKS = {"sts": "Retrieve semantically similar text.", "bitext": "Retrieve parallel sentences."}

# E5's attribute values.
QUERY_TYPES = ["extremely long-tail", "long-tail", "common"]
QUERY_LENGTHS = ["less than 5 words", "5 to 15 words", "at least 10 words"]
CLARITIES = ["clear", "understandable with some effort", "ambiguous"]
DOC_WORDS = [50, 100, 200, 300, 400, 500]
INPUT_WORDS = ["less than 10", "at least 10", "at least 50", "at least 100", "at least 200"]
DIFFICULTIES = ["high school", "college", "PhD"]
UNITS = ["sentence", "phrase", "passage"]
HIGH_SCORES = [4, 4.5, 5]
LOW_SCORES = [2.5, 3, 3.5]

LANGUAGE_NAMES = {
    "ar": "Arabic",
    "bg": "Bulgarian",
    "bn": "Bengali",
    "cs": "Czech",
    "da": "Danish",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "et": "Estonian",
    "fa": "Persian",
    "fi": "Finnish",
    "fr": "French",
    "he": "Hebrew",
    "hi": "Hindi",
    "hr": "Croatian",
    "hu": "Hungarian",
    "id": "Indonesian",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "lt": "Lithuanian",
    "lv": "Latvian",
    "nl": "Dutch",
    "no": "Norwegian",
    "pl": "Polish",
    "pt": "Portuguese",
    "ro": "Romanian",
    "ru": "Russian",
    "sk": "Slovak",
    "sl": "Slovenian",
    "sv": "Swedish",
    "sw": "Swahili",
    "te": "Telugu",
    "th": "Thai",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "ur": "Urdu",
    "vi": "Vietnamese",
    "zh": "Chinese",
}

_BRAINSTORM_WHAT = {
    "short-long": "text retrieval tasks in which a short query is used to find longer documents",
    "long-short": "text classification tasks in which a text has to be assigned a short label",
    "short-short": "text matching tasks in which both the query and the matching text are short "
    "(a sentence or a phrase)",
    "long-long": "text matching tasks in which both the query and the matching text are long documents",
    "xling": "cross-lingual retrieval tasks in which a query in one language is used to find documents "
    "written in another language",
}
_BRAINSTORM_EXAMPLES = {
    "short-long": [
        "Given a question about a medication, retrieve leaflets that answer it.",
        "Given a product name, retrieve reviews that discuss that product.",
    ],
    "long-short": [
        "Given a customer e-mail, classify it by the department that should answer it.",
        "Given a movie review, classify its sentiment as positive, negative or mixed.",
    ],
    "short-short": [
        "Given a question title, retrieve other question titles that ask the same thing.",
        "Given a news headline, retrieve headlines about the same event.",
    ],
    "long-long": [
        "Given a research abstract, retrieve abstracts of papers that build on it.",
        "Given a bug report, retrieve earlier bug reports describing the same fault.",
    ],
    "xling": [
        "Given a question about a recipe, retrieve cooking instructions that answer it.",
        "Given a complaint about a delayed parcel, retrieve help-centre articles that address it.",
    ],
}


def language_name(code: str) -> str:
    """English name of an ISO 639-1 code (the code itself when unknown)."""
    return LANGUAGE_NAMES.get(code, code)


def brainstorm_messages(family: str, n: int, domain: str | None) -> list[dict]:
    """Step 1: ask for a JSON list of `n` task definitions (or topics, for STS and bitext)."""
    about = f" They should all be about {domain}." if domain else ""
    if family in FIXED_TASKS:
        kind = "pairs of sentences with the same meaning" if family == "sts" else "sentences and their translations"
        text = (
            f'List {n} different topics for {kind}, for example "train delay announcements" or '
            f'"opinions about a restaurant".{about} Each topic is a short phrase. '
            "Answer with a JSON list of strings and nothing else."
        )
    else:
        examples = "\n".join(f"- {e}" for e in _BRAINSTORM_EXAMPLES[family])
        text = (
            f"Think of {n} useful {_BRAINSTORM_WHAT[family]}.{about} Two examples:\n{examples}\n"
            "Rules: say what the query is and what the texts to find are; each task covers many possible "
            'queries rather than one; write each task as one English sentence starting with "Given". '
            "Answer with a JSON list of strings and nothing else. Be creative."
        )
    return [{"role": "user", "content": text}]


@dataclass(frozen=True)
class Attempt:
    """What one generation call asks for: the task, its language(s) and the sampled E5 attributes."""

    task: str
    topic: str | None
    language: str  # "de", or "de->en" for paired families
    meta: dict


def sample_attributes(family: str, rng: random.Random) -> dict:
    """Draw E5's attributes for one example of a family."""
    if family in ("short-long", "xling"):
        return {
            "query_type": rng.choice(QUERY_TYPES),
            "query_length": rng.choice(QUERY_LENGTHS),
            "clarity": rng.choice(CLARITIES),
            "num_words": rng.choice(DOC_WORDS),
            "difficulty": rng.choice(DIFFICULTIES),
        }
    if family == "long-short":
        return {
            "clarity": rng.choice(CLARITIES),
            "num_words": rng.choice(INPUT_WORDS),
            "difficulty": rng.choice(DIFFICULTIES),
        }
    if family in ("sts", "bitext"):
        return {
            "unit": rng.choice(UNITS),
            "high_score": rng.choice(HIGH_SCORES),
            "low_score": rng.choice(LOW_SCORES),
            "difficulty": rng.choice(DIFFICULTIES),
        }
    return {"difficulty": rng.choice(DIFFICULTIES)}


def split_language(language: str) -> tuple[str, str]:
    """("de", "en") for "de->en"; (x, x) for a single language."""
    src, _, tgt = language.partition("->")
    return src, tgt or src


def example_messages(family: str, attempt: Attempt) -> list[dict]:
    """Step 2: ask for one example of `attempt.task` as a JSON object with the family's keys."""
    a = attempt.meta
    src, tgt = split_language(attempt.language)
    q_lang, d_lang = language_name(src), language_name(tgt)
    if family in ("short-long", "xling"):
        lang_rule = (
            f"The query is in {q_lang}; both documents are in {d_lang}."
            if src != tgt
            else f"Query and documents are in {q_lang}."
        )
        text = (
            f"Your retrieval task: {attempt.task}\nWrite one example for it as a JSON object with the keys:\n"
            '- "user_query": a search query a user could send for this task,\n'
            '- "positive_document": a document that answers the query,\n'
            '- "hard_negative_document": a document that looks related but answers the query less well.\n'
            f"The query is {a['query_type']}, {a['query_length']} and {a['clarity']}; pick any subject. "
            "Write the documents on their own, without copying the query. "
            f"Each document has at least {a['num_words']} words. {lang_rule} Understanding them needs "
            f"{a['difficulty']} education. Never explain why a document fits or not."
        )
    elif family == "long-short":
        text = (
            f"Your classification task: {attempt.task}\nWrite one example as a JSON object with the keys:\n"
            '- "input_text": a text to classify,\n- "label": its correct label,\n'
            '- "misleading_label": a plausible but wrong label.\n'
            f"The input text is {a['clarity']}, has {a['num_words']} words, is written in {q_lang} and needs "
            f"{a['difficulty']} education to understand."
        )
    elif family in ("short-short", "long-long"):
        size = "short (one sentence or phrase)" if family == "short-short" else "long (at least 300 words)"
        text = (
            f"Your matching task: {attempt.task}\nWrite one example as a JSON object with the keys:\n"
            '- "input": an input for this task,\n- "positive_document": a text that matches the input,\n'
            '- "hard_negative_document": a text that looks similar but does not match.\n'
            f"All three are {size}, written in {q_lang}, share few words, and need {a['difficulty']} "
            "education to understand."
        )
    elif family == "sts":
        topic = f" about {attempt.topic}" if attempt.topic else ""
        unit = a["unit"]
        text = (
            f"Write a {unit}{topic} in {q_lang}, a paraphrase of it and a {unit} with a different meaning, "
            f'as a JSON object with the keys "text", "paraphrase" and "different_meaning", all in {q_lang}.\n'
            f"On a similarity scale from 1 to 5, text and paraphrase score at least {a['high_score']}; text "
            f"and different_meaning score at most {a['low_score']} although they share many words. "
            f"Understanding them needs {a['difficulty']} education."
        )
    elif family == "bitext":
        topic = f" about {attempt.topic}" if attempt.topic else ""
        unit = a["unit"]
        text = (
            f"Write a {unit}{topic} in {q_lang}, its faithful translation into {d_lang}, and a {unit} in "
            f"{d_lang} that shares many words with the translation but means something else, as a JSON object "
            'with the keys "text", "translation" and "wrong_translation".\n'
            f"Understanding them needs {a['difficulty']} education."
        )
    else:
        raise ValueError(f"unknown family {family!r}: use one of {', '.join(FAMILIES)}")
    text += "\nAnswer with the JSON object only, no explanation."
    return [{"role": "user", "content": text}]


def brainstorm_prefix(family: str) -> str:
    """How a brainstorm answer begins (for backends that continue a begun answer)."""
    return '["' if family in FIXED_TASKS else '["Given '


# family -> (raw key of query, of positive, of negative) in the model's JSON
EXAMPLE_KEYS = {
    "short-long": ("user_query", "positive_document", "hard_negative_document"),
    "xling": ("user_query", "positive_document", "hard_negative_document"),
    "long-short": ("input_text", "label", "misleading_label"),
    "short-short": ("input", "positive_document", "hard_negative_document"),
    "long-long": ("input", "positive_document", "hard_negative_document"),
    # E5 names these S1, S2, S3; a 135M model answered "S1" as the value more often than not.
    "sts": ("text", "paraphrase", "different_meaning"),
    "bitext": ("text", "translation", "wrong_translation"),
}
