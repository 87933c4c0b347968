"""Turn a model's raw answer into a row, or into a drop reason: JSON extraction, schema, language checks."""

from __future__ import annotations

import ast
import json
import re
import threading

from embedder.synth.prompts import EXAMPLE_KEYS, FIXED_TASKS, split_language

# Drop reasons, counted in the run summary.
NOT_JSON = "not_json"
TRUNCATED = "truncated"
MISSING_KEYS = "missing_keys"
EMPTY = "empty"
SAME_TEXT = "positive_equals_negative"
QUERY_COPIED = "query_equals_positive"
WRONG_LANGUAGE = "wrong_language"
PLACEHOLDER = "placeholder"
DUPLICATE = "near_duplicate"
BAD_TASK_LIST = "bad_task_list"

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)


class Rejected(ValueError):
    """A model answer that cannot become a row; `reason` is one of the drop reasons above."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def closing_index(text: str, start: int) -> int | None:
    """Index just past the bracket that closes text[start], skipping strings; None when it never closes."""
    pairs = {"{": "}", "[": "]"}
    stack: list[str] = []
    quote: str | None = None
    escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch if ch == '"' or stack else None
        elif ch in pairs:
            stack.append(pairs[ch])
        elif stack and ch == stack[-1]:
            stack.pop()
            if not stack:
                return i + 1
    return None


def _first_wins(pairs: list[tuple]) -> dict:
    # A looping model repeats keys with worse values; json's default keeps the last one.
    obj: dict = {}
    for key, value in pairs:
        obj.setdefault(key, value)
    return obj


def _load(block: str):
    try:
        return json.loads(block, object_pairs_hook=_first_wins)
    except json.JSONDecodeError:
        pass
    # Small models often answer with Python literals (single quotes, True) or a trailing comma.
    try:
        return ast.literal_eval(block)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        pass
    try:
        return json.loads(re.sub(r",\s*([}\]])", r"\1", block), object_pairs_hook=_first_wins)
    except json.JSONDecodeError:
        return None


def _objects(text: str) -> list[dict]:
    """Every complete top-level JSON object in the text, in order."""
    found: list[dict] = []
    start = text.find("{")
    while start != -1:
        end = closing_index(text, start)
        if end is None:
            break
        value = _load(text[start:end])
        if isinstance(value, dict):
            found.append(value)
            start = text.find("{", end)
        else:
            start = text.find("{", start + 1)
    return found


def extract_json(text: str, kind: type = dict, finish_reason: str | None = None):
    """The first JSON object (kind=dict) or list (kind=list) in messy model output; Rejected otherwise.

    Accepts code fences, prose around the JSON, Python-literal quoting and trailing commas. An opening
    bracket that never closes, or a stop at the token limit, is reported as truncated.
    """
    opener = "{" if kind is dict else "["
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    unclosed = False
    for candidate in candidates:
        start = candidate.find(opener)
        while start != -1:
            end = closing_index(candidate, start)
            if end is None:
                unclosed = True
                break
            value = _load(candidate[start:end])
            if isinstance(value, kind):
                return value
            start = candidate.find(opener, start + 1)
    if unclosed or finish_reason == "length":
        raise Rejected(TRUNCATED, text[-80:])
    raise Rejected(NOT_JSON, text[:80])


def normalise(text: str) -> str:
    """Case-folded text with collapsed whitespace and no edge punctuation (for equality checks)."""
    return re.sub(r"\s+", " ", text.casefold()).strip(" .,;:!?\"'()[]")


def parse_tasks(text: str, family: str, finish_reason: str | None = None) -> list[str]:
    """Task definitions (or STS/bitext topics) from a brainstorm answer: a JSON list, else bullet lines."""
    try:
        items = extract_json(text, list, finish_reason)
    except Rejected:
        # A list cut off at the token limit still has its complete strings; a numbered list has its lines.
        if "[" in text:
            items = [json.loads(f'"{m}"') for m in re.findall(r'"((?:[^"\\\n]|\\.)*)"', text[text.find("[") :])]
        else:
            bullet = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")
            items = [bullet.sub("", line).strip(" \"',") for line in text.splitlines() if bullet.match(line)]
    tasks: list[str] = []
    seen: set[str] = set()
    for item in items:
        if isinstance(item, dict):  # [{"task": "..."}] happens
            item = next((v for v in item.values() if isinstance(v, str)), "")
        if not isinstance(item, str):
            continue
        item = re.sub(r"\s+", " ", item).strip()
        words = len(item.split())
        ok = 1 <= words <= 12 if family in FIXED_TASKS else 5 <= words <= 60
        if ok and normalise(item) not in seen:
            seen.add(normalise(item))
            tasks.append(item)
    if not tasks:
        raise Rejected(BAD_TASK_LIST, text[:80])
    return tasks


class LanguageChecker:
    """Flags text confidently detected (lingua) as another language than asked; short or unsure text passes.

    The detector knows the asked languages plus a set of widespread ones: loading all 75 lingua models
    for Latin script took ~25 s on this 2-core machine, and a stray answer from a small model is nearly
    always in one of these. Thresholds as in indexer.language (rewritten: the embedder must not import
    the indexer).
    """

    COMMON = ("en", "de", "fr", "es", "it", "pt", "nl", "ru", "pl", "tr", "ar", "zh", "ja", "ko", "hi")
    MIN_LETTERS = 8
    MIN_CONFIDENCE = 0.5
    MIN_LEAD = 2.0

    def __init__(self, languages: tuple[str, ...] | list[str] = (), common: bool = True) -> None:
        self.languages = sorted(set(self.COMMON if common else ()) | set(languages))
        self._detector = None
        self._lock = threading.Lock()

    def _build(self):
        from lingua import IsoCode639_1, LanguageDetectorBuilder

        codes = []
        for code in self.languages:
            try:
                codes.append(IsoCode639_1.from_str(code))
            except ValueError:
                continue  # a language lingua does not know is simply not checked
        return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()

    def detect(self, text: str) -> str | None:
        """ISO 639-1 code of `text`, or None when it is too short or lingua is unsure."""
        if sum(ch.isalpha() for ch in text) < self.MIN_LETTERS:
            return None
        with self._lock:
            if self._detector is None:
                self._detector = self._build()
            values = self._detector.compute_language_confidence_values(text[:2048])
        if not values or values[0].value < self.MIN_CONFIDENCE:
            return None
        if len(values) > 1 and values[0].value < self.MIN_LEAD * values[1].value:
            return None
        return values[0].language.iso_code_639_1.name.lower()

    def wrong(self, text: str, expected: str) -> str | None:
        """The detected language when it is confidently not `expected`, else None."""
        found = self.detect(text)
        return found if found is not None and found != expected else None


def _is_placeholder(value: str, keys: tuple[str, ...]) -> bool:
    """True for values that are only key names, codes and punctuation ("S2", "S1-S3"): the model echoed the format."""
    for key in sorted(keys, key=len, reverse=True):
        value = re.sub(re.escape(key), " ", value, flags=re.I)
    return re.search(r"[^\W\d_]{2,}", value) is None  # no run of two letters: "S4", "A2D1", "42"


def to_row(
    raw: str,
    family: str,
    task: str,
    language: str,
    meta: dict,
    checker: LanguageChecker | None,
    finish_reason: str | None = None,
) -> dict:
    """A row in the shared synthetic format from one raw answer; raises Rejected with the reason."""
    obj = extract_json(raw, dict, finish_reason)
    keys = EXAMPLE_KEYS[family]
    if any(k not in obj for k in keys):  # small models write {"S1": ...} {"S2": ...} as separate objects
        merged: dict = {}
        for part in _objects(raw):
            merged = {**part, **merged}
        obj = merged if all(k in merged for k in keys) else obj
    missing = [k for k in keys if k not in obj]
    if missing:
        raise Rejected(MISSING_KEYS, ", ".join(missing))
    values = [obj[k] for k in keys]
    if not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in values):
        raise Rejected(MISSING_KEYS, "a value is not text")
    query, positive, negative = (str(v).strip() for v in values)
    if not (query and positive and negative):
        raise Rejected(EMPTY)
    for value in (query, positive, negative):
        if _is_placeholder(value, keys):
            raise Rejected(PLACEHOLDER, value[:60])
    if normalise(positive) == normalise(negative):
        raise Rejected(SAME_TEXT)
    if normalise(query) == normalise(positive):
        raise Rejected(QUERY_COPIED)
    if checker is not None:
        src, tgt = split_language(language)
        fields = [(query, src)] if family == "long-short" else [(query, src), (positive, tgt), (negative, tgt)]
        for text, expected in fields:  # long-short labels are too short to judge
            found = checker.wrong(text, expected)
            if found:
                raise Rejected(WRONG_LANGUAGE, f"asked {expected}, got {found}: {text[:60]}")
    return {
        "family": family,
        "task": task,
        "language": language,
        "query": query,
        "positive": positive,
        "negative": negative,
        "meta": meta,
    }
