"""Loaders for the evaluation sets under the shared data root (layouts in ../shared/data/README.md).

Each loader returns plain dataclasses; `--limit N` keeps the first N pairs / queries so quick runs see the
same rows every time. Sets the issue asks for that the data root lacks are listed by `missing_sets`.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from embedder.evaluate.sts import load_sts_tsv

STSB_LANGS = ["en", "de", "es", "fr", "it", "ja", "nl", "pl", "pt", "ru", "zh"]
STS17_TRACKS = {  # file stem -> dataset name
    "track1.ar-ar": "sts17-ar-ar",
    "track2.ar-en": "sts17-ar-en",
    "track3.es-es": "sts17-es-es",
    "track4a.es-en": "sts17-es-en-4a",
    "track4b.es-en": "sts17-es-en-4b",
    "track5.en-en": "sts17-en-en",
}
XQUAD_LANGS = ["en", "ar", "de", "el", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh"]
MLQA_SETS = ["en-en", "de-de", "es-es", "ar-ar", "hi-hi", "vi-vi", "zh-zh"]
MLQA_SETS += ["de-en", "es-en", "ar-en", "hi-en", "vi-en", "zh-en"]
TYDI_LANGS = ["ar", "bn", "en", "fi", "id", "ko", "ru", "sw", "te"]

# Sets named by the issue that this data collection does not hold (with the reason from its README).
KNOWN_ABSENT = {
    "sts17-tr-en": "STS17 track 6 is kept raw and unaligned in sts/sts17_crosslingual/track6_tr-en_UNALIGNED",
    "mlqa-test": "only MLQA dev was obtainable (test files are over the 4 MiB download limit)",
    "lareqa-mlqa-r": "MLQA-R was removed by the LAReQA authors; only XQuAD-R is present",
}


@dataclass
class StsSet:
    """Sentence pairs with gold similarity scores; Spearman x100 of cosine is the metric."""

    name: str
    task: str
    rows: list[tuple[str, str, float]]


@dataclass
class RetrievalSet:
    """A BEIR-style set: queries and corpus as id -> text, qrels as query id -> {doc id: relevance}."""

    name: str
    task: str
    queries: dict[str, str]
    corpus: dict[str, str]
    qrels: dict[str, dict[str, int]]


@dataclass
class BitextSet:
    """Aligned translations: row i of `source` translates row i of `target`."""

    name: str
    task: str
    source: list[str]
    target: list[str] = field(default_factory=list)


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")


def _existing(path: Path) -> Path:
    """`path`, or its .gz twin (large files of the data collection are stored gzipped)."""
    if path.exists():
        return path
    gz = path.with_name(path.name + ".gz")
    if gz.exists():
        return gz
    raise FileNotFoundError(f"{path} (or {gz.name}) not found: pass --data pointing at the shared data folder")


def _jsonl(path: Path) -> Iterator[dict]:
    with _open_text(_existing(path)) as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    """Read a BEIR qrels TSV (header query-id, corpus-id, score) as query id -> {doc id: score}."""
    qrels: dict[str, dict[str, int]] = {}
    with _open_text(_existing(path)) as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader)
        for query_id, doc_id, score in reader:
            if int(score) > 0:
                qrels.setdefault(query_id, {})[doc_id] = int(score)
    return qrels


def load_beir(
    folder: Path, name: str, task: str, limit: int | None = None, corpus_folder: Path | None = None
) -> RetrievalSet:
    """Load a BEIR folder; `corpus_folder` swaps in another corpus (XQuAD question(X) -> English passages).

    With `limit`, keep the first `limit` queries that have qrels, and cut the corpus to their relevant
    documents plus the first `limit` others, so a quick run still has distractors.
    """
    qrels = load_qrels(folder / "qrels" / "test.tsv")
    queries = {q["_id"]: q["text"] for q in _jsonl(folder / "queries.jsonl") if q["_id"] in qrels}
    if limit is not None:
        queries = dict(list(queries.items())[:limit])
    qrels = {qid: qrels[qid] for qid in queries}
    corpus = {}
    for doc in _jsonl((corpus_folder or folder) / "corpus.jsonl"):
        # BEIR convention (as in its evaluation scripts): title and text joined by a space.
        corpus[doc["_id"]] = f"{doc.get('title') or ''} {doc['text']}".strip()
    if limit is not None:
        relevant = {doc_id for rel in qrels.values() for doc_id in rel}
        others = [doc_id for doc_id in corpus if doc_id not in relevant][:limit]
        corpus = {doc_id: corpus[doc_id] for doc_id in corpus if doc_id in relevant or doc_id in others}
    unknown = {doc_id for rel in qrels.values() for doc_id in rel} - corpus.keys()
    if unknown:
        raise ValueError(f"{folder}: qrels name {len(unknown)} documents missing from the corpus, e.g. {min(unknown)}")
    return RetrievalSet(name, task, queries, corpus, qrels)


def sts_sets(root: Path, limit: int | None = None) -> Iterator[StsSet]:
    """STS-B test (11 languages + KorSTS), SICK-R test, STS12-16, STS17 tracks, BIOSSES: the ones present."""
    sts = Path(root) / "sts"
    files: list[tuple[str, str, Path]] = [
        (f"stsb-{lang}", "sts", sts / "stsb_multi_mt" / lang / "test.tsv") for lang in STSB_LANGS
    ]
    files.append(("stsb-ko (KorSTS)", "sts", sts / "korsts" / "test.tsv"))
    files.append(("sick-r", "sts", sts / "sick_r" / "test.tsv"))
    files += [(f"sts{year}", "sts", sts / "sts12-16_en" / f"STS{year}" / "all.tsv") for year in range(12, 17)]
    files += [(name, "sts", sts / "sts17_crosslingual" / f"{stem}.tsv") for stem, name in STS17_TRACKS.items()]
    files.append(("biosses", "biomedical_sts", sts / "biosses" / "test.tsv"))
    for name, task, path in files:
        if path.exists():
            yield StsSet(name, task, load_sts_tsv(path, limit=limit))


def retrieval_sets(root: Path, limit: int | None = None) -> Iterator[RetrievalSet]:
    """SciFact, XQuAD (monolingual and question(X) -> English), MLQA dev, TyDi QA GoldP dev, LAReQA (XQuAD-R)."""
    retrieval = Path(root) / "retrieval"
    if (retrieval / "beir_scifact").exists():
        yield load_beir(retrieval / "beir_scifact", "scifact", "scientific_claims", limit)
    xquad = retrieval / "xquad"
    langs = [lang for lang in XQUAD_LANGS if (xquad / lang).exists()]
    for lang in langs:
        yield load_beir(xquad / lang, f"xquad-{lang}", "question_answering", limit)
    if "en" in langs:
        for lang in langs:
            if lang != "en":
                yield load_beir(xquad / lang, f"xquad-{lang}>en", "multilingual_qa", limit, xquad / "en")
    mlqa = retrieval / "mlqa_dev"
    for pair in MLQA_SETS:
        if (mlqa / pair).exists():
            query_lang, passage_lang = pair.split("-")
            name = f"mlqa-{query_lang}" if query_lang == passage_lang else f"mlqa-{query_lang}>en"
            task = "question_answering" if query_lang == passage_lang else "multilingual_qa"
            yield load_beir(mlqa / pair, name, task, limit)
    tydi = retrieval / "tydiqa_goldp_dev"
    for lang in TYDI_LANGS:
        if (tydi / lang).exists():
            yield load_beir(tydi / lang, f"tydi-{lang}", "question_answering", limit)
    if (retrieval / "xquad_r_lareqa").exists():
        yield load_beir(retrieval / "xquad_r_lareqa", "lareqa (xquad-r)", "multilingual_qa", limit)


def bitext_sets(root: Path, limit: int | None = None) -> Iterator[BitextSet]:
    """Tatoeba (LASER): one set per language paired with English, `limit` pairs each."""
    for path in sorted((Path(root) / "bitext" / "tatoeba_laser").glob("*-eng.tsv")):
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            next(reader)
            pairs = [(row[0], row[1]) for _, row in zip(range(limit or 10**9), reader, strict=False)]
        lang = path.name.removesuffix("-eng.tsv")
        yield BitextSet(f"tatoeba-{lang}", "bitext", [p[0] for p in pairs], [p[1] for p in pairs])


def missing_sets(root: Path) -> dict[str, str]:
    """Sets named by the issue that are not under `root`: name -> why."""
    root = Path(root)
    missing = dict(KNOWN_ABSENT)
    expected = {
        "stsb-multi-mt": root / "sts" / "stsb_multi_mt",
        "sick-r": root / "sts" / "sick_r",
        "sts12-16": root / "sts" / "sts12-16_en",
        "sts17": root / "sts" / "sts17_crosslingual",
        "biosses": root / "sts" / "biosses",
        "scifact": root / "retrieval" / "beir_scifact",
        "xquad": root / "retrieval" / "xquad",
        "mlqa": root / "retrieval" / "mlqa_dev",
        "tydi": root / "retrieval" / "tydiqa_goldp_dev",
        "lareqa": root / "retrieval" / "xquad_r_lareqa",
        "tatoeba": root / "bitext" / "tatoeba_laser",
    }
    for name, folder in expected.items():
        if not folder.exists():
            missing[name] = f"{folder} not found"
    return missing
