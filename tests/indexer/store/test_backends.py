"""Both store backends honour the same contract: qdrant-edge in a tmp dir, qdrant-client in local mode."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from indexer.store.base import ContractMismatchError, Point
from indexer.store.edge import EdgeStore
from indexer.store.server import ServerOptions, ServerStore

CONTRACT = {"backbone": "tiny", "dim": 4}


@pytest.fixture(params=["edge", "server-local", pytest.param("server", marks=pytest.mark.server)])
def store(request, tmp_path):
    """A fresh collection on each backend; the real-server one runs only when QDRANT_URL is set."""
    if request.param == "edge":
        s = EdgeStore(tmp_path / "index", "docs")
    elif request.param == "server-local":
        s = ServerStore(location=str(tmp_path / "qdrant-local"), collection="docs")
    else:
        url = os.environ.get("QDRANT_URL")
        if not url:
            pytest.skip("set QDRANT_URL (e.g. http://localhost:6333) to run against a real Qdrant server")
        options = ServerOptions(api_key=os.environ.get("QDRANT_API_KEY"))
        s = ServerStore(url=url, collection=f"babelsearch-test-{uuid.uuid4().hex[:8]}", options=options)
    yield s
    if request.param == "server" and s.exists():
        s.client.delete_collection(s.collection)
    s.close()


def _point(n: int, vector: list[float], **payload) -> Point:
    return Point(str(uuid.uuid5(uuid.NAMESPACE_URL, f"p{n}")), vector, payload)


def _fill(store) -> list[Point]:
    store.ensure_collection(4, CONTRACT)
    points = [
        _point(1, [1, 0, 0, 0], source="a.md", language="de"),
        _point(2, [0.9, 0.1, 0, 0], source="a.md", language="en"),
        _point(3, [0, 1, 0, 0], source="b.md", language="en"),
    ]
    store.upsert(points)
    return points


def test_new_collection_is_empty_and_has_no_contract(store):
    assert not store.exists()
    assert store.contract() is None
    assert store.count() == 0
    assert store.search([1, 0, 0, 0], 3) == []


def test_upsert_is_idempotent_by_id(store):
    points = _fill(store)
    store.upsert(points)
    assert store.count() == 3
    assert store.contract() == CONTRACT


def test_search_ranks_by_cosine_and_filters(store):
    _fill(store)
    hits = store.search([1, 0, 0, 0], 3)
    assert [h.payload["language"] for h in hits[:2]] == ["de", "en"]
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    filtered = store.search([1, 0, 0, 0], 3, filters={"source": ["b.md"]})
    assert [h.payload["source"] for h in filtered] == ["b.md"]


def test_count_facet_scroll_retrieve(store):
    points = _fill(store)
    assert store.count({"source": ["a.md"]}) == 2
    assert store.facet("language") == {"de": 1, "en": 2}
    assert {p.id for p in store.scroll()} == {p.id for p in points}
    got = store.retrieve([points[0].id, str(uuid.uuid4())], with_vectors=True)
    assert len(got) == 1 and got[0].payload["source"] == "a.md"
    assert got[0].vector == pytest.approx([1, 0, 0, 0], abs=1e-6)


def test_delete_by_id_and_filter(store):
    points = _fill(store)
    store.delete([points[2].id])
    assert store.count() == 2
    store.delete_by_filter({"source": ["a.md"]})
    assert store.count() == 0
    with pytest.raises(ValueError, match="refusing"):
        store.delete_by_filter({})


def test_a_different_contract_is_refused_with_both_sides_named(store):
    _fill(store)
    with pytest.raises(ContractMismatchError, match=r"backbone: stored 'tiny', now 'gemma'.*--collection"):
        store.ensure_collection(4, {**CONTRACT, "backbone": "gemma"})


def test_edge_store_survives_reopen(tmp_path):
    store = EdgeStore(tmp_path, "docs")
    points = _fill(store)
    store.optimize()
    store.close()
    reopened = EdgeStore(tmp_path, "docs")
    assert reopened.count() == 3 and reopened.contract() == CONTRACT
    assert reopened.search([0, 1, 0, 0], 1)[0].id == points[2].id
    reopened.close()


def test_edge_store_open_in_another_process_gives_a_clear_error(tmp_path):
    store = EdgeStore(tmp_path, "docs")
    _fill(store)
    code = (
        "import sys\nfrom indexer.store.edge import EdgeStore\nfrom indexer.store.base import StoreLockedError\n"
        f"try:\n    EdgeStore({str(tmp_path)!r}, 'docs')\nexcept StoreLockedError as e:\n    print(e); sys.exit(3)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    store.close()
    assert result.returncode == 3, result.stderr
    assert "open in another process" in result.stdout and "--url" in result.stdout


def test_two_edge_stores_in_one_process_share_the_shard(tmp_path):
    first = EdgeStore(tmp_path, "docs")
    _fill(first)
    second = EdgeStore(tmp_path, "docs")
    second.upsert([_point(9, [0, 0, 1, 0], source="c.md", language="fr")])
    assert first.count() == 4
    second.close()
    assert first.count() == 4
    first.close()


def test_scroll_can_limit_the_payload_to_some_fields(store):
    _fill(store)
    payloads = [p.payload for p in store.scroll(payload_fields=["source"])]
    assert sorted(p["source"] for p in payloads) == ["a.md", "a.md", "b.md"]
    assert all(set(p) == {"source"} for p in payloads)
