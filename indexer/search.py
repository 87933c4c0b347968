"""Search: encode the query with the query-side instruction, find the nearest chunks, return readable hits."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from embedder.model import Embedder
from indexer.language import detect_language
from indexer.store.base import ContractMismatchError, ScoredPoint, Store, describe_contract_mismatch

MAX_QUERY_CHARS = 20_000  # longer queries are cut here (the embedder keeps only max_tokens anyway)


class EmptyQueryError(ValueError):
    """The query has no text to search for."""


@dataclass(frozen=True)
class Hit:
    """One matching chunk."""

    id: str
    score: float
    text: str
    source: str
    title: str
    language: str
    chunk: int
    start: int
    end: int
    record: int | None = None
    metadata: dict = field(default_factory=dict)

    @classmethod
    def from_point(cls, point: ScoredPoint) -> Hit:
        """Build a hit from a stored point's payload."""
        p = point.payload
        return cls(
            id=point.id,
            score=point.score,
            text=p.get("text", ""),
            source=p.get("source", ""),
            title=p.get("title", ""),
            language=p.get("language", "und"),
            chunk=int(p.get("chunk", 0)),
            start=int(p.get("start", 0)),
            end=int(p.get("end", 0)),
            record=p.get("record"),
            metadata=p.get("metadata") or {},
        )


@dataclass(frozen=True)
class SearchResult:
    """Hits best first, with the query's detected language and where the time went."""

    hits: list[Hit]
    query_language: str | None
    encode_ms: float
    search_ms: float
    truncated: bool = False


class Searcher:
    """Searches one store with one embedder; refuses a store built with another embedder."""

    def __init__(self, embedder: Embedder, store: Store):
        stored = store.contract()
        if stored is not None and stored != embedder.contract:
            raise ContractMismatchError(
                describe_contract_mismatch(getattr(store, "collection", "?"), stored, embedder.contract)
            )
        self.embedder = embedder
        self.store = store

    def search(
        self,
        query: str,
        task: str | None = "web_search",
        k: int = 10,
        languages: list[str] | None = None,
        sources: list[str] | None = None,
    ) -> SearchResult:
        """Return the k best chunks for `query`; `task` is a short task name or a full instruction sentence."""
        if not isinstance(query, str) or not query.strip():
            raise EmptyQueryError("the query is empty: type a few words or a question")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        truncated = len(query) > MAX_QUERY_CHARS
        query = query.strip()[:MAX_QUERY_CHARS]
        started = time.perf_counter()
        vector = self.embedder.encode_queries([query], task=task)[0]
        encoded = time.perf_counter()
        filters: dict[str, list] = {}
        if languages:
            filters["language"] = list(languages)
        if sources:
            filters["source"] = list(sources)
        points = self.store.search(vector.tolist(), k, filters or None)
        done = time.perf_counter()
        return SearchResult(
            hits=[Hit.from_point(p) for p in points],
            query_language=detect_language(query),
            encode_ms=(encoded - started) * 1000,
            search_ms=(done - encoded) * 1000,
            truncated=truncated,
        )


def collection_stats(store: Store) -> dict:
    """Points, sources, languages and the stored contract of a collection (what `babelsearch stats` prints)."""
    exists = store.exists()
    languages = store.facet("language") if exists else {}
    return {
        "collection": getattr(store, "collection", None),
        "points": store.count(),
        "sources": len(store.facet("source")) if exists else 0,
        "documents": len(store.facet("doc_key")) if exists else 0,
        "languages": dict(sorted(languages.items(), key=lambda kv: -kv[1])),
        "contract": store.contract(),
    }
