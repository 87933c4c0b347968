"""Run the STS, retrieval and bitext suites for one model and return one result per dataset."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedder.evaluate import datasets
from embedder.evaluate.metrics import bitext_accuracy, normalize, rank_and_score, spearman_x100
from embedder.instructions import resolve_task

SUITES = ("sts", "retrieval", "bitext")
MAIN_METRIC = {"sts": "spearman", "retrieval": "ndcg@10", "bitext": "accuracy"}


@dataclass
class Result:
    """One dataset's scores (all x100), with what the model was given and how long it took."""

    suite: str
    dataset: str
    task: str
    instruction: str
    size: dict[str, int]
    metrics: dict[str, float]
    seconds: float
    texts_encoded: int
    summary: bool = False  # True for a suite-level mean row

    @property
    def main(self) -> float:
        """The headline metric of the suite (Spearman, nDCG@10 or bitext accuracy)."""
        return self.metrics[MAIN_METRIC[self.suite]]

    def to_dict(self) -> dict:
        """JSON-ready form, with the headline metric named `main`."""
        return {**asdict(self), "main": self.main}


class CachedEncoder:
    """Wraps a model so a text embedded twice under the same prefix is encoded once per run.

    XQuAD's question(X) -> English sets reuse the English passages and the X questions of the monolingual
    sets; the cache saves that time without changing any vector.
    """

    def __init__(self, model: Any, batch_size: int = 32):
        self.model = model
        self.batch_size = batch_size
        self._cache: dict[tuple[str, str], np.ndarray] = {}
        self.encoded = 0  # texts actually sent to the model

    def _encode(self, key: str, texts: list[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if (key, t) not in self._cache))
        if todo:
            for text, vector in zip(todo, normalize(encode(todo)), strict=True):
                self._cache[(key, text)] = vector
            self.encoded += len(todo)
        return np.stack([self._cache[(key, t)] for t in texts])

    def queries(self, texts: list[str], task: str) -> np.ndarray:
        """Query-side vectors under `task`'s instruction."""
        return self._encode(
            f"q:{task}", texts, lambda t: self.model.encode_queries(t, task=task, batch_size=self.batch_size)
        )

    def documents(self, texts: list[str]) -> np.ndarray:
        """Document-side vectors."""
        return self._encode("d", texts, lambda t: self.model.encode_documents(t, batch_size=self.batch_size))

    def clear(self) -> None:
        """Drop cached vectors (between suites, to bound memory)."""
        self._cache.clear()


def describe_instruction(model: Any, task: str, symmetric: bool) -> str:
    """What the model is given before each text: `query | document` prefixes, or one prefix for both sides."""
    query = model.query_prefix(task)
    if symmetric:
        return query
    return f"{query} | {model.document_prefix()}"


def evaluate_sts(encoder: CachedEncoder, sts: datasets.StsSet) -> dict[str, float]:
    """Spearman x100 of the cosine between both sentences, each embedded on the query side with the set's task."""
    first = encoder.queries([r[0] for r in sts.rows], sts.task)
    second = encoder.queries([r[1] for r in sts.rows], sts.task)
    return {"spearman": spearman_x100((first * second).sum(axis=1), [r[2] for r in sts.rows])}


def evaluate_retrieval(encoder: CachedEncoder, data: datasets.RetrievalSet) -> dict[str, float]:
    """Queries with the set's task instruction against documents with the document instruction; ranx measures."""
    query_ids, doc_ids = list(data.queries), list(data.corpus)
    query_vectors = encoder.queries([data.queries[q] for q in query_ids], data.task)
    doc_vectors = encoder.documents([data.corpus[d] for d in doc_ids])
    return rank_and_score(query_ids, query_vectors, doc_ids, doc_vectors, data.qrels)


def evaluate_bitext(encoder: CachedEncoder, data: datasets.BitextSet) -> dict[str, float]:
    """Nearest-neighbour accuracy both directions; both sides embedded as queries with the bitext task."""
    return bitext_accuracy(encoder.queries(data.source, data.task), encoder.queries(data.target, data.task))


def _selected(name: str, patterns: list[str] | None) -> bool:
    return not patterns or any(fnmatch.fnmatch(name, p) for p in patterns)


def _mean_row(suite: str, results: list[Result], name: str, task: str, instruction: str) -> Result:
    keys = results[0].metrics.keys()
    metrics = {k: float(np.mean([r.metrics[k] for r in results])) for k in keys}
    return Result(
        suite,
        name,
        task,
        instruction,
        {"datasets": len(results)},
        metrics,
        seconds=sum(r.seconds for r in results),
        texts_encoded=sum(r.texts_encoded for r in results),
        summary=True,
    )


def run_suites(
    model: Any,
    suites: list[str],
    data_root: Path,
    limit: int | None = None,
    patterns: list[str] | None = None,
    batch_size: int = 32,
    on_result: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Evaluate `model` on every present dataset of `suites` (optionally only names matching `patterns`).

    Returns per-dataset results followed, per suite, by a mean row (Tatoeba languages are averaged into
    one row of their own as well). `on_result` is called as each dataset finishes (progress display).
    """
    data_root = Path(data_root)
    if not data_root.exists():
        raise FileNotFoundError(f"data root {data_root} not found: pass --data pointing at the shared data folder")
    unknown = [s for s in suites if s not in SUITES]
    if unknown:
        raise ValueError(f"unknown suite(s) {unknown}: use {', '.join(SUITES)} or all")
    encoder = CachedEncoder(model, batch_size)
    loaders: dict[str, tuple[Callable[..., Iterator], Callable, bool]] = {
        "sts": (datasets.sts_sets, evaluate_sts, True),
        "retrieval": (datasets.retrieval_sets, evaluate_retrieval, False),
        "bitext": (datasets.bitext_sets, evaluate_bitext, True),
    }
    results: list[Result] = []
    for suite in suites:
        load, evaluate, symmetric = loaders[suite]
        suite_results: list[Result] = []
        for data in load(data_root, limit):
            if not _selected(data.name, patterns):
                continue
            started, encoded_before = time.perf_counter(), encoder.encoded
            metrics = evaluate(encoder, data)
            size = _size(data)
            result = Result(
                suite,
                data.name,
                data.task,
                describe_instruction(model, data.task, symmetric),
                size,
                metrics,
                seconds=time.perf_counter() - started,
                texts_encoded=encoder.encoded - encoded_before,
            )
            suite_results.append(result)
            if on_result:
                on_result(result)
        encoder.clear()
        if suite_results:
            results += suite_results
            task = suite_results[0].task if suite == "bitext" else "(per dataset)"
            instruction = suite_results[0].instruction if suite == "bitext" else ""
            name = f"{suite} mean ({len(suite_results)} sets)"
            results.append(_mean_row(suite, suite_results, name, task, instruction))
    return results


def _size(data: Any) -> dict[str, int]:
    if isinstance(data, datasets.StsSet):
        return {"pairs": len(data.rows)}
    if isinstance(data, datasets.RetrievalSet):
        return {"queries": len(data.queries), "corpus": len(data.corpus)}
    return {"pairs": len(data.source)}


def instruction_table(suites: list[str]) -> dict[str, str]:
    """The task short names each suite uses, with their instruction text (for the printed legend)."""
    tasks = {
        "sts": ["sts", "biomedical_sts"],
        "retrieval": ["scientific_claims", "question_answering", "multilingual_qa"],
    }
    tasks["bitext"] = ["bitext"]
    return {task: resolve_task(task) for suite in suites for task in tasks[suite]}
