"""Vector-store backends behind one interface: embedded qdrant-edge (default) or a Qdrant server."""

from __future__ import annotations

from babelsearch.config import Settings
from indexer.store.base import ContractMismatchError, Point, ScoredPoint, Store, StoreError, StoreLockedError

__all__ = ["ContractMismatchError", "Point", "ScoredPoint", "Store", "StoreError", "StoreLockedError", "open_store"]


def open_store(settings: Settings) -> Store:
    """Open the store the settings name: a server when `url` is set, else the embedded folder."""
    if settings.url:
        from indexer.store.server import ServerOptions, ServerStore

        options = ServerOptions(
            api_key=settings.api_key,
            timeout_s=settings.timeout_s,
            batch_size=settings.batch_size,
            shard_number=settings.shard_number,
            replication_factor=settings.replication_factor,
            write_consistency_factor=settings.write_consistency_factor,
        )
        if settings.url == ":memory:" or not settings.url.startswith(("http://", "https://")):
            return ServerStore(location=settings.url, collection=settings.collection, options=options)
        return ServerStore(url=settings.url, collection=settings.collection, options=options)
    from indexer.store.edge import EdgeStore

    return EdgeStore(settings.store, settings.collection)
