"""The storage interface every vector-store backend implements (agreed indexer API)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol


class ContractMismatchError(RuntimeError):
    """The collection was built with a different embedder contract than the one in use."""


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
        self, filters: dict[str, list] | None = None, with_vectors: bool = False, batch_size: int = 256
    ) -> Iterator[Point]:
        """Iterate over all (matching) points."""

    def count(self, filters: dict[str, list] | None = None) -> int:
        """Count (matching) points."""

    def facet(self, field: str) -> dict[str, int]:
        """Return value -> point count for a payload field."""

    def optimize(self) -> None:
        """Build the HNSW index after a bulk load (no-op where the engine does it itself)."""

    def close(self) -> None:
        """Flush and release the store."""
