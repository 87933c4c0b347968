"""Language of a chunk, offline, with lingua: an ISO 639-1 code, or None when the text is too short to tell.

One lingua detector for all 75 languages, built on first use, models loaded lazily per script. lingua judges
text of 120+ letters by trigrams alone and shorter text by its 1- to 5-gram models. Measured on 2 shared
CPU cores: chunk-sized text (~800 characters) loads ~70 MB of trigram models in ~0.8 s, then ~1,000 chunks/s.
Short text (under 120 letters) in Latin, Cyrillic or Arabic script is where the cost is: lingua's 1- to
5-gram models for it take ~1.1 GB and ~16 s to load (once per process), then ~1,300 texts/s. Low-accuracy
mode (trigrams only) is cheap but guessed wrong on 7 of 44 short test sentences (Russian as Kazakh, French as
Tagalog). So by default such short text gets None ("too short to tell"), which a search filter can treat as
"any language"; `accurate_short_text=True` pays for the big models instead. Short text in scripts that name
their language (kana, Hangul, Greek, Thai, ...) and Han is judged cheaply either way.
"""

from __future__ import annotations

import threading

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

SHORT_TEXT_LETTERS = 140  # lingua uses its large 1- to 5-gram models below ~120 letters; 20 spare
MAX_SAMPLE_CHARS = 2048  # a chunk's first 2 KB decide; longer text only costs time
MIN_LETTERS = 3
MIN_CONFIDENCE = 0.25  # lingua's confidence values are shares of 1 across the 75 languages
MIN_LEAD = 2.0  # the best language must be at least twice as likely as the runner-up

_detector: LanguageDetector | None = None
_lock = threading.Lock()


def detector() -> LanguageDetector:
    """The process-wide lingua detector (all languages, high accuracy, models loaded on demand)."""
    global _detector
    with _lock:
        if _detector is None:
            _detector = LanguageDetectorBuilder.from_all_languages().build()
    return _detector


def detect_language(text: str, accurate_short_text: bool = False) -> str | None:
    """ISO 639-1 code of the text's language ("de", "zh", ...), or None when unsure or too short.

    Latin, Cyrillic or Arabic text under SHORT_TEXT_LETTERS letters gets None unless `accurate_short_text`
    (which loads ~1.1 GB of lingua models, ~16 s, once per process).
    """
    sample = text.strip()[:MAX_SAMPLE_CHARS]
    letters = [ch for ch in sample if ch.isalpha()]
    if len(letters) < MIN_LETTERS:
        return None
    if len(letters) < SHORT_TEXT_LETTERS and not accurate_short_text and any(map(_needs_big_models, letters)):
        return None
    values = detector().compute_language_confidence_values(sample)
    if not values or values[0].value < MIN_CONFIDENCE:
        return None
    if len(values) > 1 and values[0].value < MIN_LEAD * values[1].value:
        return None
    return values[0].language.iso_code_639_1.name.lower()


def _needs_big_models(letter: str) -> bool:
    """Latin, Cyrillic and Arabic letters: scripts shared by many languages, told apart on short text only by
    lingua's large n-gram models."""
    code = ord(letter)
    return code < 0x0250 or 0x1E00 <= code < 0x1F00 or 0x0400 <= code < 0x0530 or 0x0600 <= code < 0x0780


def language_name(code: str | None) -> str:
    """English name of an ISO 639-1 code ("German"); "Unknown" for None, the code itself if lingua lacks it."""
    if code is None:
        return "Unknown"
    try:
        return Language.from_iso_code_639_1(IsoCode639_1.from_str(code)).name.title()
    except ValueError:
        return code
