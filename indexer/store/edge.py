"""Embedded store: the real Qdrant engine in-process (qdrant-edge-py), one shard folder per collection.

Layout: `<store>/<collection>/shard/` holds the qdrant-edge shard (its WAL makes every acknowledged write
durable), `<store>/<collection>/contract.json` the embedder contract. qdrant-edge locks a shard's WAL, so a
folder can be open in one process only: a second process gets a StoreLockedError naming the folder. Inside
one process, every EdgeStore on the same folder shares one open shard (the app and an upload ingest can run
side by side).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import qdrant_edge as qe

from indexer.store.base import (
    INDEXED_FIELDS,
    OVERSAMPLING,
    QUANTIZATION_QUANTILE,
    SEARCH_EF,
    ContractMismatchError,
    Point,
    ScoredPoint,
    StoreError,
    StoreLockedError,
    describe_contract_mismatch,
)

CONTRACT_FILE = "contract.json"
SHARD_DIR = "shard"

_open_shards: dict[Path, tuple[qe.EdgeShard, int]] = {}
_registry_lock = threading.Lock()


def _to_filter(filters: dict[str, list] | None) -> qe.Filter | None:
    """Map {field: allowed values} to a qdrant-edge filter (all fields must match, any value per field)."""
    if not filters:
        return None
    must = [qe.FieldCondition(key=key, match=qe.MatchAny(any=list(values))) for key, values in filters.items()]
    return qe.Filter(must=must)


class EdgeStore:
    """A babelsearch collection in a local folder, served by qdrant-edge."""

    def __init__(self, path: Path | str, collection: str = "babelsearch"):
        self.root = Path(path).expanduser().resolve() / collection
        self.collection = collection
        self._shard_path = self.root / SHARD_DIR
        self._shard: qe.EdgeShard | None = None
        if self._has_segments():
            self._shard = self._acquire(create_with=None)

    # -- opening -----------------------------------------------------------------------------------------
    def _has_segments(self) -> bool:
        return self._shard_path.is_dir() and any(self._shard_path.iterdir())

    def _acquire(self, create_with: qe.EdgeConfig | None) -> qe.EdgeShard:
        with _registry_lock:
            if self._shard_path in _open_shards:
                shard, refs = _open_shards[self._shard_path]
                _open_shards[self._shard_path] = (shard, refs + 1)
                return shard
            try:
                if create_with is not None and not self._has_segments():
                    shard = qe.EdgeShard.create(str(self._shard_path), create_with)
                else:
                    shard = qe.EdgeShard.load(str(self._shard_path))
            except Exception as error:  # qdrant-edge raises a bare Exception with the engine's message
                if "WouldBlock" in str(error) or "lock" in str(error).lower():
                    raise StoreLockedError(
                        f"store folder {self.root} is open in another process (qdrant-edge allows one); "
                        "stop that process (e.g. the app) first, or use a Qdrant server with --url"
                    ) from error
                raise StoreError(f"cannot open the store at {self._shard_path}: {error}") from error
            _open_shards[self._shard_path] = (shard, 1)
            return shard

    def _require_shard(self) -> qe.EdgeShard:
        if self._shard is None:
            raise StoreError(
                f"collection {self.collection!r} does not exist in {self.root.parent}: index documents first "
                "(`babelsearch index PATH`)"
            )
        return self._shard

    # -- collection and contract -------------------------------------------------------------------------
    def contract(self) -> dict | None:
        """Return the stored embedder contract, or None for a new collection."""
        file = self.root / CONTRACT_FILE
        return json.loads(file.read_text()) if file.exists() else None

    def ensure_collection(self, dim: int, contract: dict) -> None:
        """Create the shard and payload indexes if missing; refuse a different embedder contract."""
        stored = self.contract()
        if stored is not None and stored != contract:
            raise ContractMismatchError(describe_contract_mismatch(self.collection, stored, contract))
        if self._shard is None:
            self.root.mkdir(parents=True, exist_ok=True)
            config = qe.EdgeConfig(
                vectors=qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine),
                quantization_config=qe.ScalarQuantizationConfig(
                    type=qe.ScalarType.Int8, quantile=QUANTIZATION_QUANTILE, always_ram=True
                ),
            )
            self._shard = self._acquire(create_with=config)
            for field_name in INDEXED_FIELDS:
                self._shard.update(qe.UpdateOperation.create_field_index(field_name, qe.PayloadSchemaType.Keyword))
        if stored is None:  # written before any point, atomically: a crash never leaves points without it
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".contract.")
            with os.fdopen(fd, "w") as handle:
                json.dump(contract, handle, indent=2, sort_keys=True)
            os.replace(tmp, self.root / CONTRACT_FILE)

    def exists(self) -> bool:
        """Whether the collection has been created."""
        return self._shard is not None and self.contract() is not None

    # -- writes ------------------------------------------------------------------------------------------
    def upsert(self, points: list[Point]) -> None:
        """Write points (idempotent by id); durable in the WAL when this returns."""
        if not points:
            return
        edge_points = [qe.Point(p.id, [float(x) for x in p.vector], p.payload) for p in points]
        self._require_shard().update(qe.UpdateOperation.upsert_points(edge_points))

    def delete(self, ids: list[str]) -> None:
        """Delete points by id (missing ids are ignored)."""
        if ids:
            self._require_shard().update(qe.UpdateOperation.delete_points(list(ids)))

    def delete_by_filter(self, filters: dict[str, list]) -> None:
        """Delete every point matching the filters."""
        if not filters:
            raise ValueError("delete_by_filter needs at least one filter; refusing to delete everything")
        self._require_shard().update(qe.UpdateOperation.delete_points_by_filter(_to_filter(filters)))

    # -- reads -------------------------------------------------------------------------------------------
    def retrieve(self, ids: list[str], with_vectors: bool = False) -> list[Point]:
        """Fetch points by id; missing ids are left out."""
        if not ids or self._shard is None:
            return []
        records = self._shard.retrieve(list(ids), with_payload=True, with_vector=with_vectors)
        return [Point(str(r.id), list(r.vector) if with_vectors else None, r.payload or {}) for r in records]

    def search(self, vector: list[float], k: int, filters: dict[str, list] | None = None) -> list[ScoredPoint]:
        """Return the k nearest points by cosine similarity, best first."""
        if self._shard is None:
            return []
        request = qe.QueryRequest(
            limit=k,
            query=qe.Query.Nearest([float(x) for x in vector]),
            filter=_to_filter(filters),
            with_payload=True,
            params=qe.SearchParams(
                hnsw_ef=SEARCH_EF, quantization=qe.QuantizationSearchParams(rescore=True, oversampling=OVERSAMPLING)
            ),
        )
        return [ScoredPoint(str(p.id), float(p.score), p.payload or {}) for p in self._shard.query(request)]

    def scroll(
        self,
        filters: dict[str, list] | None = None,
        with_vectors: bool = False,
        batch_size: int = 256,
        payload_fields: list[str] | None = None,
    ) -> Iterator[Point]:
        """Iterate over all (matching) points in id order."""
        if self._shard is None:
            return
        offset = None
        while True:
            request = qe.ScrollRequest(
                offset=offset,
                limit=batch_size,
                filter=_to_filter(filters),
                with_payload=payload_fields if payload_fields is not None else True,
                with_vector=with_vectors,
            )
            records, offset = self._shard.scroll(request)
            for r in records:
                yield Point(str(r.id), list(r.vector) if with_vectors else None, r.payload or {})
            if offset is None:
                return

    def count(self, filters: dict[str, list] | None = None) -> int:
        """Count (matching) points exactly."""
        if self._shard is None:
            return 0
        return self._shard.count(qe.CountRequest(exact=True, filter=_to_filter(filters)))

    def facet(self, field: str) -> dict[str, int]:
        """Return value -> point count for an indexed payload field."""
        if self._shard is None:
            return {}
        response = self._shard.facet(qe.FacetRequest(key=field, limit=100_000, exact=True))
        return {str(hit.value): hit.count for hit in response.hits}

    # -- maintenance -------------------------------------------------------------------------------------
    def optimize(self) -> None:
        """Build the HNSW index and merge segments after a bulk load."""
        if self._shard is not None:
            self._shard.optimize()

    def close(self) -> None:
        """Flush; release the shard when the last EdgeStore of this process on it closes."""
        if self._shard is None:
            return
        with _registry_lock:
            shard, refs = _open_shards[self._shard_path]
            shard.flush()
            if refs <= 1:
                shard.close()
                del _open_shards[self._shard_path]
            else:
                _open_shards[self._shard_path] = (shard, refs - 1)
        self._shard = None
