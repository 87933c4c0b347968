"""The storage interface every vector-store backend implements (agreed indexer API)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

# Payload fields that searches filter on or that ingestion looks up; each backend indexes them as keywords.
INDEXED_FIELDS = ("source", "language", "file_hash", "doc_key")
# HNSW candidate list size at query time, and the int8 scalar quantisation every collection is created with
# (the graph is walked on int8 copies of the vectors, then the best OVERSAMPLING x k are rescored with the
# float vectors). Measured at 100k 640-d points (bench/search_quantization.py, docs/BENCHMARKS.md): float
# vectors, recall@10 vs exact 0.744 / 0.900 / 0.961 / 0.994 at ef 128 / 256 / 512 / 1024 for 2.0 / 3.4 / 7.3 /
# 12.6 ms per query; int8 + rescoring x2: 0.764 / 0.893 / 0.974 / 0.995 for 1.0 / 1.2 / 2.2 / 4.6 ms, and a
# 2.9x faster HNSW build.
SEARCH_EF = 1024
QUANTIZATION_QUANTILE = 0.99
OVERSAMPLING = 2.0


class StoreError(RuntimeError):
    """A store cannot be opened or used; the message names the store and the fix."""


class ContractMismatchError(StoreError):
    """The collection was built with a different embedder contract than the one in use."""


class StoreLockedError(StoreError):
    """An embedded store folder is already open in another process."""


def describe_contract_mismatch(collection: str, stored: dict, current: dict) -> str:
    """A message naming every contract field that differs and what to do about it."""
    keys = sorted(set(stored) | set(current))
    diffs = [f"{k}: stored {stored.get(k)!r}, now {current.get(k)!r}" for k in keys if stored.get(k) != current.get(k)]
    return (
        f"collection {collection!r} was built with a different embedder ("
        + "; ".join(diffs)
        + "). Query it with the model it was built with (--model), or re-index into a new --collection."
    )


@dataclass
class Point:
    """One stored vector with its payload; id is a uuid string."""

    id: str
    vector: list[float] | None
    payload: dict = field(default_factory=dict)


@dataclass
class ScoredPoint:
    """A search result: point id, cosine score and payload."""

    id: str
    score: float
    payload: dict = field(default_factory=dict)


class Store(Protocol):
    """A collection of chunk vectors; filters map a payload field to allowed values (match any)."""

    def ensure_collection(self, dim: int, contract: dict) -> None:
        """Create the collection if missing; raise ContractMismatchError if its contract differs."""

    def exists(self) -> bool:
        """Whether the collection has been created."""

    def contract(self) -> dict | None:
        """Return the stored embedder contract, or None for a new collection."""

    def upsert(self, points: list[Point]) -> None:
        """Write points (idempotent by id), applied before return."""

    def delete(self, ids: list[str]) -> None:
        """Delete points by id."""

    def delete_by_filter(self, filters: dict[str, list]) -> None:
        """Delete every point matching the filters."""

    def retrieve(self, ids: list[str], with_vectors: bool = False) -> list[Point]:
        """Fetch points by id; missing ids are left out."""

    def search(self, vector: list[float], k: int, filters: dict[str, list] | None = None) -> list[ScoredPoint]:
        """Return the k nearest points by cosine similarity, best first."""

    def scroll(
        self,
        filters: dict[str, list] | None = None,
        with_vectors: bool = False,
        batch_size: int = 256,
        payload_fields: list[str] | None = None,
    ) -> Iterator[Point]:
        """Iterate over all (matching) points; `payload_fields` limits the payload to those keys."""

    def count(self, filters: dict[str, list] | None = None) -> int:
        """Count (matching) points."""

    def facet(self, field: str) -> dict[str, int]:
        """Return value -> point count for a payload field."""

    def optimize(self) -> None:
        """Build the HNSW index after a bulk load (no-op where the engine does it itself)."""

    def close(self) -> None:
        """Flush and release the store."""
