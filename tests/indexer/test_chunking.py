"""indexer.chunking: spans, token limits, overlap and boundary preferences, with the tiny test tokenizer."""

from __future__ import annotations

import itertools
import re

import pytest

from indexer.chunking import Chunk, chunk_text

EN = "Where is the railway station? The station is in the city centre. A man is playing a guitar."
DE = "Wo ist der Bahnhof? Der Bahnhof liegt im Stadtzentrum. Die Katze schläft auf dem Sofa!"
RU = "Где вокзал? Вокзал находится в центре города."
JA = "駅はどこですか？駅は町の中心にあります。"


@pytest.fixture(scope="module")
def tokenizer():
    """The tiny backbone's byte-level BPE tokenizer (built in code, cached; no model is loaded)."""
    from transformers import AutoTokenizer

    from embedder.backbones import backbone_path

    return AutoTokenizer.from_pretrained(backbone_path("tiny"))


def _count(tokenizer, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def _document(paragraphs: int = 40) -> str:
    sources = [EN, DE, RU, JA, EN + " " + DE, RU + "\n" + JA]
    return "\n\n".join(sources[i % len(sources)] + f" Paragraph {i}." for i in range(paragraphs))


def _check(text: str, chunks: list[Chunk], tokenizer, max_tokens: int) -> None:
    """Every chunk is its span's slice, within the limit, counted exactly, and together they cover the text."""
    assert [c.index for c in chunks] == list(range(len(chunks)))
    covered = set()
    for c in chunks:
        assert c.text == text[c.start : c.end] and c.text == c.text.strip() and c.text
        assert c.token_count == _count(tokenizer, c.text) <= max_tokens
        covered.update(range(c.start, c.end))
    assert {i for i, ch in enumerate(text) if not ch.isspace()} <= covered
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)


@pytest.mark.parametrize(("max_tokens", "overlap_tokens"), [(64, 16), (128, 32), (40, 0), (16, 4)])
def test_spans_limits_and_coverage(tokenizer, max_tokens, overlap_tokens):
    text = _document()
    chunks = chunk_text(text, tokenizer, max_tokens=max_tokens, overlap_tokens=overlap_tokens)
    assert len(chunks) > 3
    _check(text, chunks, tokenizer, max_tokens)


def test_short_text_is_one_chunk(tokenizer):
    text = "\n  " + DE + "  \n"
    [chunk] = chunk_text(text, tokenizer)
    assert (chunk.start, chunk.end, chunk.text) == (3, 3 + len(DE), DE)
    assert chunk.token_count == _count(tokenizer, DE)


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t \u3000"])
def test_whitespace_only_text_has_no_chunks(tokenizer, text):
    assert chunk_text(text, tokenizer) == []


@pytest.mark.parametrize(("max_tokens", "overlap_tokens"), [(0, 0), (32, 32), (32, 40), (32, -1), (32.0, 4)])
def test_invalid_arguments(tokenizer, max_tokens, overlap_tokens):
    with pytest.raises(ValueError, match="max_tokens"):
        chunk_text(EN, tokenizer, max_tokens=max_tokens, overlap_tokens=overlap_tokens)


def test_chunks_end_at_paragraph_breaks_when_paragraphs_fit(tokenizer):
    text = _document()
    assert max(_count(tokenizer, p) for p in text.split("\n\n")) <= 100  # each under half the budget
    chunks = chunk_text(text, tokenizer, max_tokens=200, overlap_tokens=0)
    assert len(chunks) > 3
    for c in chunks[:-1]:
        assert text[c.end : c.end + 2] == "\n\n"
    assert chunks[-1].end == len(text)
    assert "".join(c.text for c in chunks).replace("\n", "") == text.replace("\n", "")  # no overlap, nothing lost


def test_long_paragraph_is_cut_at_sentence_ends(tokenizer):
    text = " ".join([EN, DE, RU] * 12)
    chunks = chunk_text(text, tokenizer, max_tokens=48, overlap_tokens=0)
    assert len(chunks) > 5
    for c in chunks[:-1]:
        assert c.text[-1] in ".?!", c.text


def test_overlap_is_whole_sentences_of_about_the_budget(tokenizer):
    text = " ".join([EN] * 30)  # sentences of 4-8 tokens: whole ones always fit the overlap
    chunks = chunk_text(text, tokenizer, max_tokens=64, overlap_tokens=24)
    assert len(chunks) > 3
    sentence_starts = {m.end() for m in re.finditer(r"[.?!] ", text)} | {0}
    for previous, current in itertools.pairwise(chunks):
        assert current.start < previous.end  # they overlap
        assert current.start in sentence_starts
        assert 12 <= _count(tokenizer, text[current.start : previous.end]) <= 24 + 1
        assert current.end > previous.end  # always progress


def test_overlap_falls_back_to_words_inside_long_sentences(tokenizer):
    text = " ".join(f"word{i}" for i in range(400))  # one sentence, far over the limit
    chunks = chunk_text(text, tokenizer, max_tokens=50, overlap_tokens=10)
    _check(text, chunks, tokenizer, 50)
    for previous, current in itertools.pairwise(chunks):
        assert text[current.start - 1] == " " and text[previous.end] == " "  # cut between words
        overlap = _count(tokenizer, text[current.start : previous.end])
        assert 3 <= overlap <= 11


def test_cjk_without_spaces_is_cut_at_token_boundaries(tokenizer):
    text = "火车站在哪里火车站在市中心" * 60  # no spaces, no punctuation
    chunks = chunk_text(text, tokenizer, max_tokens=32, overlap_tokens=0)
    _check(text, chunks, tokenizer, 32)
    assert "".join(c.text for c in chunks) == text  # no character split or lost
    assert min(c.token_count for c in chunks[:-1]) >= 16


def test_japanese_sentences_are_cut_after_full_stops(tokenizer):
    text = JA * 30
    chunks = chunk_text(text, tokenizer, max_tokens=40, overlap_tokens=0)
    _check(text, chunks, tokenizer, 40)
    assert all(c.text[-1] in "。？" for c in chunks)


def test_a_giant_word_is_split(tokenizer):
    text = "Anfang. " + "Donaudampfschifffahrtsgesellschaft" * 40 + " Ende."
    chunks = chunk_text(text, tokenizer, max_tokens=24, overlap_tokens=4)
    _check(text, chunks, tokenizer, 24)


def test_deterministic(tokenizer):
    text = _document(25)
    assert chunk_text(text, tokenizer, 64, 16) == chunk_text(text, tokenizer, 64, 16)


def test_raw_tokenizers_tokenizer_gives_the_same_chunks(tokenizer):
    text = _document(12)
    assert chunk_text(text, tokenizer.backend_tokenizer, 64, 16) == chunk_text(text, tokenizer, 64, 16)


def test_text_longer_than_one_tokenization_block(tokenizer):
    text = _document(800)  # ~78k characters: several 16k blocks, cut at paragraph breaks
    assert len(text) > 60_000
    chunks = chunk_text(text, tokenizer, max_tokens=256, overlap_tokens=32)
    _check(text, chunks, tokenizer, 256)
