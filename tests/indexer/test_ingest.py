"""The ingestion job on both backends: idempotent, incremental, prune, contract checks, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.ingest import Ingestor, chunk_id
from indexer.search import EmptyQueryError, Searcher
from indexer.store.base import ContractMismatchError
from indexer.store.edge import EdgeStore
from indexer.store.server import ServerStore


@pytest.fixture(params=["edge", "server-local"])
def store(request, tmp_path):
    """An empty collection on each backend."""
    s = EdgeStore(tmp_path / "index") if request.param == "edge" else ServerStore(location=":memory:")
    yield s
    s.close()


@pytest.fixture
def corpus(tmp_path):
    """Three small documents in three languages."""
    root = tmp_path / "docs"
    root.mkdir()
    (root / "bees.md").write_text("# Bees\n\nHoney bees pollinate flowers and make honey in their hives.\n")
    (root / "vulkan.txt").write_text("Ein Vulkan bricht aus, wenn Magma aus der Erdkruste an die Oberfläche steigt.\n")
    (root / "pan.txt").write_text("El pan de masa madre necesita tiempo, harina, agua y sal.\n\nSe hornea caliente.\n")
    return root


def _ingestor(tiny_embedder, store) -> Ingestor:
    return Ingestor(tiny_embedder, store, max_chunk_tokens=32, chunk_overlap_tokens=4)


def _snapshot(store) -> dict[str, tuple]:
    """Every point's id with the parts of its payload a re-run must reproduce."""
    return {p.id: (p.payload["source"], p.payload["chunk"], p.payload["text"]) for p in store.scroll()}


def test_first_run_indexes_every_file_with_deterministic_ids(tiny_embedder, store, corpus):
    report = _ingestor(tiny_embedder, store).run([corpus], progress=False)
    assert report.ok and len(report.indexed) == 3 and report.chunks_written == store.count() > 0
    for point in store.scroll():
        p = point.payload
        assert point.id == chunk_id(p["source"], p["record"], p["chunk"], p["text"])
        assert set(p) >= {"text", "source", "title", "chunk", "start", "end", "language", "file_hash", "ingested_at"}
    assert store.contract() == tiny_embedder.contract


def test_rerun_over_unchanged_files_writes_nothing(tiny_embedder, store, corpus):
    ingestor = _ingestor(tiny_embedder, store)
    ingestor.run([corpus], progress=False)
    before = _snapshot(store)
    report = ingestor.run([corpus], progress=False)
    assert report.chunks_written == 0 and report.chunks_deleted == 0
    assert sorted(report.unchanged) == sorted(
        (corpus / n).resolve().as_posix() for n in ("bees.md", "pan.txt", "vulkan.txt")
    )
    assert _snapshot(store) == before


def test_a_changed_file_has_its_old_chunks_replaced(tiny_embedder, store, corpus):
    ingestor = _ingestor(tiny_embedder, store)
    ingestor.run([corpus], progress=False)
    bees = (corpus / "bees.md").resolve().as_posix()
    (corpus / "bees.md").write_text("# Bees\n\nBumblebees are larger and hairier than honey bees.\n")
    report = ingestor.run([corpus], progress=False)
    assert report.indexed == [bees] and report.chunks_deleted > 0
    texts = " ".join(p.payload["text"] for p in store.scroll(filters={"source": [bees]}))
    assert "Bumblebees" in texts and "pollinate" not in texts


def test_prune_removes_chunks_of_deleted_files_only_when_asked(tiny_embedder, store, corpus):
    ingestor = _ingestor(tiny_embedder, store)
    ingestor.run([corpus], progress=False)
    pan = (corpus / "pan.txt").resolve().as_posix()
    (corpus / "pan.txt").unlink()
    ingestor.run([corpus], progress=False)
    assert store.count({"source": [pan]}) > 0
    report = ingestor.run([corpus], prune=True, progress=False)
    assert report.pruned == [pan] and store.count({"source": [pan]}) == 0
    assert store.count() > 0


def test_a_different_model_is_refused_for_ingest_and_search(tiny_embedder, store, corpus):
    _ingestor(tiny_embedder, store).run([corpus], progress=False)
    other = tiny_embedder.contract | {"adapter_sha256": "0" * 64}
    store_contract = store.contract()
    assert store_contract != other
    with pytest.raises(ContractMismatchError, match="adapter_sha256"):
        store.ensure_collection(tiny_embedder.dim, other)

    class OtherEmbedder:
        dim = tiny_embedder.dim
        contract = other

    with pytest.raises(ContractMismatchError, match="re-index"):
        Searcher(OtherEmbedder(), store)


def test_a_failed_file_is_reported_and_the_rest_indexed(tiny_embedder, store, corpus):
    (corpus / "empty.txt").write_text("")
    (corpus / "notes.xyz").write_text("unsupported")
    report = _ingestor(tiny_embedder, store).run([corpus], progress=False)
    assert len(report.indexed) == 3
    assert [f.source.rsplit("/", 1)[-1] for f in report.failed] == ["empty.txt"]
    assert [f.source.rsplit("/", 1)[-1] for f in report.skipped] == ["notes.xyz"]
    assert not report.ok


def test_search_returns_the_nearest_chunks_by_query_side_cosine_and_filters(tiny_embedder, store, corpus):
    _ingestor(tiny_embedder, store).run([corpus], progress=False)
    query = (
        "Which insects pollinate the flowers in an orchard in spring, and how do the worker bees in a hive "
        "turn the nectar they collect into honey for the winter? Do they also need pollen and water?"
    )  # long enough (> 140 letters) for the cheap language detector to be sure
    result = Searcher(tiny_embedder, store).search(query, task="web_search", k=3)
    vectors = {p.id: np.asarray(p.vector) for p in store.scroll(with_vectors=True)}
    q = tiny_embedder.encode_queries([query], task="web_search")[0]
    expected = sorted(vectors, key=lambda i: -float(vectors[i] @ q))[:3]
    assert [h.id for h in result.hits] == expected
    assert result.query_language == "en" and result.encode_ms > 0
    pan = (corpus / "pan.txt").resolve().as_posix()
    only_pan = Searcher(tiny_embedder, store).search(query, k=5, sources=[pan])
    assert only_pan.hits and {h.source for h in only_pan.hits} == {pan}
    languages = {p.payload["language"] for p in store.scroll()}
    rarest = min(languages, key=lambda code: store.count({"language": [code]}))
    only_one = Searcher(tiny_embedder, store).search(query, k=50, languages=[rarest])
    assert len(only_one.hits) == store.count({"language": [rarest]})
    assert {h.language for h in only_one.hits} == {rarest}


def test_an_empty_query_is_refused_with_a_clear_message(tiny_embedder, store, corpus):
    _ingestor(tiny_embedder, store).run([corpus], progress=False)
    with pytest.raises(EmptyQueryError, match="empty"):
        Searcher(tiny_embedder, store).search("   ")


def test_every_kind_of_bad_input_is_reported_by_name_and_the_rest_indexed(tiny_embedder, store, corpus):
    from pypdf import PdfWriter

    bad = corpus / "bad"
    bad.mkdir()
    (bad / "empty.md").write_text("")
    (bad / "binary.txt").write_bytes(b"\x00\x01\x02\xff" * 100)
    latin1 = (
        "Café crème et crème brûlée : une recette française très appréciée. On prépare la crème la veille, "
        "puis on la caramélise au dernier moment. Le goût sucré et l'odeur de vanille évoquent les cafés de Paris."
    )
    (bad / "latin1.txt").write_bytes(latin1.encode("latin-1"))  # not UTF-8: the encoding must be detected
    with open(bad / "huge.txt", "wb") as handle:  # sparse: 50 MB without writing 50 MB
        handle.truncate(50 * 1024 * 1024)
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    with open(bad / "scan.pdf", "wb") as handle:
        writer.write(handle)
    (bad / "slides.pptx").write_bytes(b"PK")
    (bad / "loop").symlink_to(bad, target_is_directory=True)
    (bad / "records.jsonl").write_text('{"text": "Ein guter Eintrag über Bienen."}\n{not json\n')
    (bad / "table.csv").write_text("term,body\nbee,insect\n")

    report = _ingestor(tiny_embedder, store).run([corpus], progress=False)

    reasons = {(f.source.rsplit("/", 1)[-1], f.record): f.reason for f in report.failed}
    assert {name for name, _ in reasons} == {"empty.md", "binary.txt", "huge.txt", "scan.pdf", "loop", "records.jsonl",
                                            "table.csv"}  # fmt: skip
    assert "empty" in reasons[("empty.md", None)]
    assert "OCR" in reasons[("scan.pdf", None)] or "text" in reasons[("scan.pdf", None)]
    assert ("records.jsonl", 2) in reasons and "JSON" in reasons[("records.jsonl", 2)]
    assert "text" in reasons[("table.csv", None)]
    assert [f.source.rsplit("/", 1)[-1] for f in report.skipped] == ["slides.pptx"]
    indexed = {s.rsplit("/", 1)[-1] for s in report.indexed}
    assert indexed == {"bees.md", "pan.txt", "vulkan.txt", "latin1.txt", "records.jsonl"}
    assert store.count({"source": [(bad / "records.jsonl").resolve().as_posix()]}) == 1
    latin_source = (bad / "latin1.txt").resolve().as_posix()
    latin = " ".join(p.payload["text"] for p in store.scroll(filters={"source": [latin_source]}))
    assert "Café crème" in latin


class _CountingEmbedder:
    """The tiny embedder, counting document batches and refusing any text that contains `poison`."""

    def __init__(self, inner, poison: str = "\x00never") -> None:
        self.inner, self.poison, self.calls = inner, poison, 0
        self.dim, self.contract, self.tokenizer = inner.dim, inner.contract, inner.tokenizer

    def encode_documents(self, texts, batch_size=32, **kwargs):
        self.calls += 1
        if any(self.poison in t for t in texts):
            raise RuntimeError("poisoned text")
        return self.inner.encode_documents(texts, batch_size=batch_size, **kwargs)


def test_small_files_are_embedded_together(tiny_embedder, store, corpus):
    embedder = _CountingEmbedder(tiny_embedder)
    report = Ingestor(embedder, store, max_chunk_tokens=32, chunk_overlap_tokens=4).run([corpus], progress=False)
    assert report.ok and len(report.indexed) == 3
    assert embedder.calls == 1  # three files, one encode call


def test_a_failing_file_in_a_group_is_reported_alone(tiny_embedder, store, corpus):
    embedder = _CountingEmbedder(tiny_embedder, poison="Vulkan")
    report = Ingestor(embedder, store, max_chunk_tokens=32, chunk_overlap_tokens=4).run([corpus], progress=False)
    assert [f.source for f in report.failed] == [(corpus / "vulkan.txt").resolve().as_posix()]
    assert "could not embed or store" in report.failed[0].reason
    assert sorted(report.indexed) == sorted((corpus / n).resolve().as_posix() for n in ("bees.md", "pan.txt"))
    assert {p.payload["source"] for p in store.scroll()} == set(report.indexed)
    assert report.chunks_written == store.count()
