"""Moving an embedded index to a server-mode store keeps ids, payloads, the contract and search results."""

from __future__ import annotations

import random

import pytest

from indexer.ingest import Ingestor
from indexer.migrate import export_collection, import_collection, read_export
from indexer.search import Searcher
from indexer.store.base import StoreError
from indexer.store.edge import EdgeStore
from indexer.store.server import ServerStore

WORDS = [
    "river",
    "stone",
    "bread",
    "window",
    "garden",
    "music",
    "letter",
    "harbor",
    "winter",
    "candle",
    "forest",
    "engine",
    "Fluss",
    "Brot",
    "pan",
    "río",
]


@pytest.fixture
def edge_index(tiny_embedder, tmp_path):
    """An embedded index of 40 small files, built by the real ingestion job."""
    rng = random.Random(3)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for n in range(40):
        (corpus / f"d{n}.txt").write_text(" ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 80))))
    store = EdgeStore(tmp_path / "edge")
    Ingestor(tiny_embedder, store, max_chunk_tokens=24, chunk_overlap_tokens=4).run([corpus], progress=False)
    yield store
    store.close()


def test_export_import_round_trip_gives_identical_search_results(tiny_embedder, edge_index, tmp_path):
    exported = export_collection(edge_index, tmp_path / "index.jsonl.gz")
    server = ServerStore(location=":memory:")
    report = import_collection(tmp_path / "index.jsonl.gz", server)
    assert report.written == exported == edge_index.count() == server.count()
    assert server.contract() == edge_index.contract() == tiny_embedder.contract
    assert {p.id: p.payload for p in server.scroll()} == {p.id: p.payload for p in edge_index.scroll()}

    rng = random.Random(5)
    queries = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6))) for _ in range(50)]
    on_edge, on_server = Searcher(tiny_embedder, edge_index), Searcher(tiny_embedder, server)
    for query in queries:
        a, b = on_edge.search(query, k=5).hits, on_server.search(query, k=5).hits
        assert [h.id for h in a] == [h.id for h in b], query
        assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-5)


def test_import_is_resumable_and_writes_nothing_twice(edge_index, tmp_path):
    export_collection(edge_index, tmp_path / "index.jsonl.gz")
    server = ServerStore(location=":memory:")
    _, points = read_export(tmp_path / "index.jsonl.gz")
    first_half = [p for _, p in zip(range(edge_index.count() // 2), points, strict=False)]
    server.ensure_collection(len(first_half[0].vector), edge_index.contract())
    server.upsert(first_half)  # as if an import had been killed half-way
    report = import_collection(tmp_path / "index.jsonl.gz", server, batch_size=8)
    assert report.already_present == len(first_half)
    assert report.written + report.already_present == edge_index.count() == server.count()


def test_a_file_that_is_not_an_export_is_refused(tmp_path):
    bogus = tmp_path / "x.jsonl.gz"
    import gzip

    with gzip.open(bogus, "wt") as handle:
        handle.write('{"hello": 1}\n')
    with pytest.raises(StoreError, match="not a babelsearch export"):
        read_export(bogus)


def test_exporting_a_missing_collection_is_refused(tmp_path):
    with pytest.raises(StoreError, match="nothing to export"):
        export_collection(EdgeStore(tmp_path / "none"), tmp_path / "out.jsonl.gz")
