"""Chunking: split a document's text into token-bounded, overlapping chunks at the best available boundary.

The text is tokenized once, in blocks of ~16k characters, into a stream of tokens with character offsets.
Each token gets the strength of a cut just before it: 3 paragraph start, 2 sentence or line start, 1 word
start, 0 any token boundary, -1 inside one character (byte-level tokens of one character). A chunk starting at
token `a` ends at the strongest cut within the last half of its token budget (the latest of equals); the next
chunk starts at the earliest sentence start within the overlap budget, else a word start. The exact count of
each chunk's own text is then checked in batches, and the rare chunk that tokenizes longer on its own than in
context is cut shorter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

PARAGRAPH, SENTENCE, WORD, TOKEN, INSIDE_CHARACTER = 3, 2, 1, 0, -1
_BLOCK_CHARS = 16384
_VERIFY_BATCH = 64
_LOOKBEHIND_CHARS = 16

_CLOSERS = "\"'”’»)\\]}」』）】〉》"
_SENTENCE_RE = re.compile(
    rf"[.!?…‼⁇⁈⁉;։።။।॥؟۔]+[{_CLOSERS}]*\s+"  # Latin, Greek (;), Armenian, Ethiopic, Burmese, Devanagari, Arabic
    rf"|[。！？｡]+[{_CLOSERS}]*\s*"  # CJK full stops need no space after them
    r"|\n\s*"  # every line start
)
_PARAGRAPH_RE = re.compile(r"\n[^\S\n]*\n\s*")
_WHITESPACE = np.array([c for c in range(0x3001) if chr(c).isspace()], dtype=np.uint32)


@dataclass(frozen=True)
class Chunk:
    """A piece of a document: text == document_text[start:end], `token_count` tokens without special tokens."""

    index: int
    text: str
    start: int
    end: int
    token_count: int


def chunk_text(text: str, tokenizer, max_tokens: int = 256, overlap_tokens: int = 32) -> list[Chunk]:
    """Split `text` into chunks of at most `max_tokens` tokens of `tokenizer`, overlapping by ~`overlap_tokens`.

    `tokenizer` is a fast Hugging Face tokenizer (or a `tokenizers.Tokenizer`). Deterministic; whitespace-only
    text gives [].
    """
    if not isinstance(max_tokens, int) or not isinstance(overlap_tokens, int):
        raise ValueError(f"max_tokens and overlap_tokens must be integers, got {max_tokens!r}, {overlap_tokens!r}")
    if not max_tokens > overlap_tokens >= 0:
        raise ValueError(
            f"need max_tokens > overlap_tokens >= 0, got max_tokens={max_tokens}, overlap_tokens={overlap_tokens}"
        )
    if not text.strip():
        return []
    encoder = _Encoder(tokenizer)
    starts, ends, strength = _token_stream(text, encoder)
    spans = _pack(text, encoder, starts, ends, strength, max_tokens, overlap_tokens)
    return [Chunk(i, text[s:e], s, e, count) for i, (s, e, count) in enumerate(spans)]


class _Encoder:
    """Batch tokenization without special tokens, for HF fast tokenizers and raw `tokenizers.Tokenizer`s."""

    def __init__(self, tokenizer):
        self.raw = not callable(tokenizer) and hasattr(tokenizer, "encode_batch")
        self.tokenizer = tokenizer

    def offsets(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        if self.raw:
            return [e.offsets for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]
        try:
            out = self._call(texts, return_offsets_mapping=True)
        except NotImplementedError as e:
            raise TypeError("chunk_text needs a fast tokenizer (offsets mapping); load it with use_fast=True") from e
        return out["offset_mapping"]

    def counts(self, texts: list[str]) -> list[int]:
        if self.raw:
            return [len(e.ids) for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]
        return [len(ids) for ids in self._call(texts)["input_ids"]]

    def _call(self, texts: list[str], **kwargs):
        # Through the HF wrapper, not its backend: the wrapper resets truncation/padding left by other callers.
        return self.tokenizer(
            texts, add_special_tokens=False, return_attention_mask=False, return_token_type_ids=False, **kwargs
        )


# ---------------------------------------------------------------- the token stream


def _token_stream(text: str, encoder: _Encoder) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Character start, end and cut strength of every token of `text`, tokenized block by block."""
    blocks = _blocks(text)
    starts, ends, strengths = [], [], []
    for i in range(0, len(blocks), 16):
        batch = blocks[i : i + 16]
        for (p, e, end_strength), offsets in zip(batch, encoder.offsets([text[p:e] for p, e, _ in batch]), strict=True):
            if not offsets:
                continue
            pairs = np.asarray(offsets, dtype=np.int64).reshape(-1, 2) + p
            starts.append(pairs[:, 0])
            ends.append(pairs[:, 1])
            strengths.append(_cut_strengths(text, p, e, end_strength, pairs))
    starts_all, ends_all, strength_all = (np.concatenate(a) for a in (starts, ends, strengths))
    inside = np.flatnonzero(starts_all[1:] < ends_all[:-1]) + 1  # a token that starts before the previous ended
    strength_all[inside] = INSIDE_CHARACTER
    return starts_all, ends_all, strength_all


def _blocks(text: str) -> list[tuple[int, int, int]]:
    """(start, end, strength of the cut at end) blocks of ~_BLOCK_CHARS, cut before a blank line, newline or space."""
    blocks, p = [], 0
    while p < len(text):
        e, strength = len(text), PARAGRAPH
        if len(text) - p > _BLOCK_CHARS:
            e, strength = p + _BLOCK_CHARS, TOKEN
            for separator, kind in (("\n\n", PARAGRAPH), ("\n", SENTENCE), (" ", WORD)):
                cut = text.rfind(separator, p + _BLOCK_CHARS // 2, p + _BLOCK_CHARS)
                if cut > p:
                    e, strength = cut, kind
                    break
        blocks.append((p, e, strength))
        p = e
    return blocks


def _cut_strengths(text: str, p: int, e: int, end_strength: int, pairs: np.ndarray) -> np.ndarray:
    """Strength of a cut before each token of block text[p:e]: that of the first non-space character it leads to."""
    k = min(p, _LOOKBEHIND_CHARS)  # a sentence end just before the block still marks its first sentence start
    segment = text[p - k : e]
    n = len(segment)
    space = np.isin(np.frombuffer(segment.encode("utf-32-le"), dtype=np.uint32), _WHITESPACE)
    cut = np.zeros(n + 1, dtype=np.int8)
    cut[1:n][space[:-1] & ~space[1:]] = WORD
    for match in _SENTENCE_RE.finditer(segment):
        cut[match.end()] = max(cut[match.end()], SENTENCE)
    for match in _PARAGRAPH_RE.finditer(segment):
        cut[match.end()] = PARAGRAPH
    if p == 0:
        cut[0] = PARAGRAPH
    cut[n] = end_strength
    content = np.flatnonzero(~space)
    local = pairs[:, 0] - (p - k)
    index = np.searchsorted(content, local)
    first_content = np.where(index < len(content), content[np.minimum(index, len(content) - 1)], n)
    return cut[first_content]


# ---------------------------------------------------------------- packing


def _pack(text, encoder, starts, ends, strength, max_tokens, overlap_tokens) -> list[tuple[int, int, int]]:
    """(start char, end char, token count) of every chunk, checked against the tokenizer in batches."""
    n = len(starts)
    accepted: list[tuple[int, int, int]] = []
    a, previous_end = 0, 0
    while a < n:
        plans = _plan(strength, n, a, previous_end, max_tokens, overlap_tokens)
        spans = [_trim(text, int(starts[x]), int(ends[y - 1])) for x, y in plans]
        counts = encoder.counts([text[s:e] for s, e in spans])
        for (pa, b), (s, e), count in zip(plans, spans, counts, strict=True):
            too_long = count > max_tokens  # alone it tokenizes longer than in context (rare)
            if too_long:
                b, (s, e), count = _shorten(text, encoder, starts, ends, strength, pa, b, count, max_tokens)
            if e > s:
                accepted.append((s, e, count))
            previous_end = b
            a = n if b >= n else _next_start(strength, pa, b, overlap_tokens)
            if too_long:
                break  # the remaining plans started from the old end: plan again from here
    return accepted


def _plan(strength, n, a, previous_end, max_tokens, overlap_tokens) -> list[tuple[int, int]]:
    """Up to _VERIFY_BATCH consecutive chunks as token ranges, starting at token `a`."""
    plans: list[tuple[int, int]] = []
    while len(plans) < _VERIFY_BATCH:
        b = _cut(strength, n, a, max_tokens, previous_end + 1)
        plans.append((a, b))
        if b >= n:
            break
        a, previous_end = _next_start(strength, a, b, overlap_tokens), b
    return plans


def _cut(strength: np.ndarray, n: int, a: int, limit: int, min_end: int) -> int:
    """Exclusive end token of a chunk from `a`: the strongest cut in the last half of the budget, latest wins."""
    if n - a <= limit:
        return n
    hi = a + limit
    lo = min(max(a + (limit + 1) // 2, min_end), hi)
    window = strength[lo : hi + 1]
    best = window.max()
    return int(hi - np.argmax(window[::-1] == best))


def _next_start(strength: np.ndarray, a: int, b: int, overlap: int) -> int:
    """Start token of the chunk after [a, b): whole sentences within the overlap if any, else a word start."""
    lo = max(b - overlap, a + 1)
    if overlap == 0 or lo >= b:
        return b
    for floor, hi in ((SENTENCE, max(lo, b - overlap // 2)), (WORD, b - 1), (TOKEN, b - 1)):
        hits = np.flatnonzero(strength[lo : hi + 1] >= floor)
        if len(hits):
            return lo + int(hits[0])
    return b


def _shorten(text, encoder, starts, ends, strength, a, b, count, max_tokens):
    """Cut chunk [a, b) shorter until its own tokenization fits; returns (end token, span, count)."""
    n = len(starts)
    while count > max_tokens:
        if b - a <= 1:
            break  # one token that alone tokenizes into more than max_tokens: keep it rather than loop
        limit = max(1, (b - a) - (count - max_tokens))
        b = _cut(strength, n, a, limit, a + 1)
        span = _trim(text, int(starts[a]), int(ends[b - 1]))
        count = encoder.counts([text[span[0] : span[1]]])[0]
    return b, span, count


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    """The span without leading and trailing whitespace."""
    piece = text[s:e]
    stripped = piece.strip()
    if not stripped:
        return s, s
    left = len(piece) - len(piece.lstrip())
    return s + left, s + left + len(stripped)
