"""Server store: a Qdrant server (or cluster) through qdrant-client; local mode (":memory:" / a path) for tests.

The embedder contract lives in the collection's own metadata, so any client of the server sees it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import httpx
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from indexer.store.base import (
    INDEXED_FIELDS,
    OVERSAMPLING,
    QUANTIZATION_QUANTILE,
    SEARCH_EF,
    ContractMismatchError,
    Point,
    ScoredPoint,
    StoreError,
    describe_contract_mismatch,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
CONTRACT_KEY = "babelsearch_contract"


@dataclass(frozen=True)
class ServerOptions:
    """Connection and collection settings; the cluster fields apply when the collection is created."""

    api_key: str | None = None
    timeout_s: int = 30
    retries: int = 4
    backoff_s: float = 0.5
    batch_size: int = 128
    shard_number: int | None = None
    replication_factor: int | None = None
    write_consistency_factor: int | None = None


def _is_transient(error: Exception) -> bool:
    if isinstance(error, ResponseHandlingException | httpx.TransportError):
        return True
    return isinstance(error, UnexpectedResponse) and error.status_code in (408, 429, 500, 502, 503, 504)


def _to_filter(filters: dict[str, list] | None) -> models.Filter | None:
    if not filters:
        return None
    return models.Filter(
        must=[models.FieldCondition(key=k, match=models.MatchAny(any=list(v))) for k, v in filters.items()]
    )


class ServerStore:
    """A babelsearch collection on a Qdrant server; `location=":memory:"` or a path runs qdrant-client local mode."""

    def __init__(
        self,
        url: str | None = None,
        collection: str = "babelsearch",
        options: ServerOptions | None = None,
        location: str | None = None,
    ):
        if (url is None) == (location is None):
            raise ValueError("give exactly one of url (a Qdrant server) or location (':memory:' or a folder)")
        self.collection = collection
        self.options = options or ServerOptions()
        self.where = url or location
        self.local = url is None  # qdrant-client local mode: no payload indexes (it warns and ignores them)
        if url is not None:
            self.client = QdrantClient(url=url, api_key=self.options.api_key, timeout=self.options.timeout_s)
        elif location == ":memory:":
            self.client = QdrantClient(location=":memory:")
        else:
            self.client = QdrantClient(path=location)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Run a client call, retrying transient failures with exponential backoff.

        Written here because qdrant-client has no retry policy of its own.
        """
        for attempt in range(self.options.retries + 1):
            try:
                return fn()
            except Exception as error:
                if not _is_transient(error) or attempt == self.options.retries:
                    if _is_transient(error):
                        raise StoreError(
                            f"Qdrant at {self.where} did not answer {what} after {attempt + 1} tries: {error}; "
                            "check that the server is up and the URL / API key are right"
                        ) from error
                    raise
                delay = self.options.backoff_s * 2**attempt
                log.warning("%s failed (%s); retrying in %.1f s", what, error, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    # -- collection and contract -------------------------------------------------------------------------
    def exists(self) -> bool:
        """Whether the collection has been created."""
        return self._call("collection_exists", lambda: self.client.collection_exists(self.collection))

    def contract(self) -> dict | None:
        """Return the stored embedder contract, or None for a new collection."""
        if not self.exists():
            return None
        info = self._call("get_collection", lambda: self.client.get_collection(self.collection))
        return (info.config.metadata or {}).get(CONTRACT_KEY)

    def ensure_collection(self, dim: int, contract: dict) -> None:
        """Create the collection (with the contract and payload indexes) if missing; refuse a different one."""
        if self.exists():
            stored = self.contract()
            if stored is not None and stored != contract:
                raise ContractMismatchError(describe_contract_mismatch(self.collection, stored, contract))
            if stored is not None:
                return
        opts = self.options
        try:
            self._call(
                "create_collection",
                lambda: self.client.create_collection(
                    self.collection,
                    vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE),
                    quantization_config=models.ScalarQuantization(
                        scalar=models.ScalarQuantizationConfig(
                            type=models.ScalarType.INT8, quantile=QUANTIZATION_QUANTILE, always_ram=True
                        )
                    ),
                    shard_number=opts.shard_number,
                    replication_factor=opts.replication_factor,
                    write_consistency_factor=opts.write_consistency_factor,
                    metadata={CONTRACT_KEY: contract},
                ),
            )
        except (UnexpectedResponse, ValueError) as error:  # another writer created it first: check theirs
            if not self.exists():
                raise
            log.info("collection %s was created concurrently (%s)", self.collection, error)
            return self.ensure_collection(dim, contract)
        for field_name in () if self.local else INDEXED_FIELDS:
            self._call(
                "create_payload_index",
                lambda f=field_name: self.client.create_payload_index(
                    self.collection, f, models.PayloadSchemaType.KEYWORD, wait=True
                ),
            )

    # -- writes ------------------------------------------------------------------------------------------
    def upsert(self, points: list[Point]) -> None:
        """Write points in batches (idempotent by id), each applied (`wait=True`) before the next."""
        size = self.options.batch_size
        for start in range(0, len(points), size):
            batch = [
                models.PointStruct(id=p.id, vector=[float(x) for x in p.vector], payload=p.payload)
                for p in points[start : start + size]
            ]
            self._call("upsert", lambda b=batch: self.client.upsert(self.collection, points=b, wait=True))

    def delete(self, ids: list[str]) -> None:
        """Delete points by id (missing ids are ignored)."""
        if ids:
            selector = models.PointIdsList(points=list(ids))
            self._call("delete", lambda: self.client.delete(self.collection, points_selector=selector, wait=True))

    def delete_by_filter(self, filters: dict[str, list]) -> None:
        """Delete every point matching the filters."""
        if not filters:
            raise ValueError("delete_by_filter needs at least one filter; refusing to delete everything")
        selector = models.FilterSelector(filter=_to_filter(filters))
        self._call("delete", lambda: self.client.delete(self.collection, points_selector=selector, wait=True))

    # -- reads -------------------------------------------------------------------------------------------
    def retrieve(self, ids: list[str], with_vectors: bool = False) -> list[Point]:
        """Fetch points by id; missing ids are left out."""
        if not ids or not self.exists():
            return []
        records = self._call(
            "retrieve",
            lambda: self.client.retrieve(self.collection, ids=list(ids), with_payload=True, with_vectors=with_vectors),
        )
        return [Point(str(r.id), list(r.vector) if with_vectors else None, r.payload or {}) for r in records]

    def search(self, vector: list[float], k: int, filters: dict[str, list] | None = None) -> list[ScoredPoint]:
        """Return the k nearest points by cosine similarity, best first."""
        if not self.exists():
            return []
        response = self._call(
            "query_points",
            lambda: self.client.query_points(
                self.collection,
                query=[float(x) for x in vector],
                limit=k,
                query_filter=_to_filter(filters),
                with_payload=True,
                search_params=models.SearchParams(
                    hnsw_ef=SEARCH_EF,
                    quantization=models.QuantizationSearchParams(rescore=True, oversampling=OVERSAMPLING),
                ),
            ),
        )
        return [ScoredPoint(str(p.id), float(p.score), p.payload or {}) for p in response.points]

    def scroll(
        self,
        filters: dict[str, list] | None = None,
        with_vectors: bool = False,
        batch_size: int = 256,
        payload_fields: list[str] | None = None,
    ) -> Iterator[Point]:
        """Iterate over all (matching) points."""
        if not self.exists():
            return
        offset = None
        while True:
            records, offset = self._call(
                "scroll",
                lambda o=offset: self.client.scroll(
                    self.collection,
                    scroll_filter=_to_filter(filters),
                    limit=batch_size,
                    offset=o,
                    with_payload=payload_fields if payload_fields is not None else True,
                    with_vectors=with_vectors,
                ),
            )
            for r in records:
                yield Point(str(r.id), list(r.vector) if with_vectors else None, r.payload or {})
            if offset is None:
                return

    def count(self, filters: dict[str, list] | None = None) -> int:
        """Count (matching) points exactly."""
        if not self.exists():
            return 0
        result = self._call(
            "count", lambda: self.client.count(self.collection, count_filter=_to_filter(filters), exact=True)
        )
        return result.count

    def facet(self, field: str) -> dict[str, int]:
        """Return value -> point count for an indexed payload field."""
        if not self.exists():
            return {}
        response = self._call("facet", lambda: self.client.facet(self.collection, key=field, limit=100_000, exact=True))
        return {str(hit.value): hit.count for hit in response.hits}

    # -- maintenance -------------------------------------------------------------------------------------
    def optimize(self) -> None:
        """No-op: the server's own optimizers build the HNSW index in the background."""

    def close(self) -> None:
        """Close the client connection."""
        self.client.close()
