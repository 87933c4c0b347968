"""Training examples from the shared data formats, and a seeded mixture sampler that builds batches."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from embedder.train.config import SourceConfig


@dataclass(frozen=True)
class Example:
    """One contrastive example: a query, its positive, an optional hard negative, and its task."""

    query: str
    positive: str
    negative: str | None
    task: str
    symmetric: bool = False  # True: positive/negative get the query prefix too (STS, bitext)


class DataError(ValueError):
    """Raised when a training file is missing or malformed."""


def _read_jsonl(path: Path) -> Iterator[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{line_no} is not JSON ({exc.msg}); fix or remove that line") from exc


def load_source(source: SourceConfig, data_root: Path, rng: random.Random) -> list[Example]:
    """Read every file of a source into Examples (task from the line for synthetic data)."""
    examples: list[Example] = []
    for rel in source.files:
        path = data_root / rel
        if not path.exists():
            raise DataError(f"training file {path} not found: pass --data pointing at the shared data root")
        for row in _read_jsonl(path):
            examples.append(_to_example(row, source, rng, path))
    rng.shuffle(examples)
    return examples[: source.limit] if source.limit else examples


def _to_example(row: dict, source: SourceConfig, rng: random.Random, path: Path) -> Example:
    try:
        if source.kind == "synthetic":
            symmetric = row["family"] in ("sts", "bitext")
            return Example(row["query"], row["positive"], row.get("negative") or None, row["task"], symmetric)
        negative = row.get("negative") if source.kind == "triplets" else None
        if source.symmetric_task and rng.random() < 0.5:
            return Example(row["anchor"], row["positive"], negative, source.symmetric_task, True)
        return Example(row["anchor"], row["positive"], negative, source.task or "sts", False)
    except KeyError as exc:
        raise DataError(f"{path}: a line lacks the field {exc}; expected the '{source.kind}' format") from exc


class MixtureSampler:
    """Deterministic batches: each slot draws a source by weight; no positive text repeats in a batch.

    Batch k depends only on (seed, k), so a resumed run sees exactly the batches it would have seen.
    """

    def __init__(self, sources: dict[str, list[Example]], weights: dict[str, float], batch_size: int, seed: int):
        empty = [name for name, rows in sources.items() if not rows]
        if empty:
            raise DataError(f"training sources without examples: {empty}")
        self.sources = sources
        self.names = list(sources)
        self.weights = [weights[n] for n in self.names]
        self.batch_size = batch_size
        self.seed = seed

    def batch(self, step: int) -> list[Example]:
        """The batch for optimizer step `step`."""
        rng = random.Random(f"{self.seed}:{step}")
        batch: list[Example] = []
        seen: set[str] = set()
        while len(batch) < self.batch_size:
            name = rng.choices(self.names, self.weights)[0]
            example = rng.choice(self.sources[name])
            # duplicates of a positive (or a query equal to another's positive) would be false negatives
            keys = {example.positive.strip().lower(), example.query.strip().lower()}
            if keys & seen:
                continue
            seen |= keys
            batch.append(example)
        return batch
