"""BabelsearchRetriever: LangChain's standard retriever suite over a small indexed collection, plus filters."""

from __future__ import annotations

import uuid

import pytest
from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from langchain_tests.integration_tests import RetrieversIntegrationTests

from babelsearch.config import Settings
from indexer.langchain import BabelsearchRetriever
from indexer.store.base import ContractMismatchError, Point, StoreError
from indexer.store.edge import EdgeStore

# The standard suite's async tests carry no marker; pytest-asyncio (strict mode) runs them when marked.
pytestmark = [pytest.mark.asyncio, pytest.mark.filterwarnings("ignore:.*is marked with '@pytest.mark.asyncio'")]

# (source, language, chunk text): what `babelsearch index` writes for three small files
CHUNKS = [
    ("/docs/de.txt", "de", "Der Bahnhof liegt im Stadtzentrum."),
    ("/docs/de.txt", "de", "Die Züge fahren jede Stunde nach Berlin."),
    ("/docs/en.txt", "en", "The railway station is in the city centre."),
    ("/docs/en.txt", "en", "Trains leave every hour for London."),
    ("/docs/fr.md", "fr", "La gare est au centre-ville."),
]


def index_chunks(store, embedder) -> list[str]:
    """Write CHUNKS as indexer.ingest does (payload fields and document-side vectors); return the point ids."""
    store.ensure_collection(embedder.dim, embedder.contract)
    vectors = embedder.encode_documents([text for *_, text in CHUNKS])
    points, position = [], {}
    for (source, language, text), vector in zip(CHUNKS, vectors, strict=True):
        chunk = position[source] = position.get(source, -1) + 1
        payload = {
            "text": text,
            "source": source,
            "doc_key": source,
            "record": None,
            "title": source.rsplit("/", 1)[-1].split(".")[0],
            "chunk": chunk,
            "start": 0,
            "end": len(text),
            "language": language,
            "metadata": {"extension": source.rsplit(".", 1)[-1]},
        }
        points.append(Point(str(uuid.uuid5(uuid.NAMESPACE_URL, f"{source}#{chunk}")), vector.tolist(), payload))
    store.upsert(points)
    return [p.id for p in points]


@pytest.fixture(scope="class")
def indexed(request, tmp_path_factory, tiny_embedder):
    """An embedded store holding CHUNKS; the class gets `store`, `embedder` and `ids`."""
    store = EdgeStore(tmp_path_factory.mktemp("retriever") / "index", "docs")
    request.cls.ids = index_chunks(store, tiny_embedder)
    request.cls.store, request.cls.embedder = store, tiny_embedder
    yield store
    store.close()


@pytest.mark.usefixtures("indexed")
class TestBabelsearchRetriever(RetrieversIntegrationTests):
    store: EdgeStore
    embedder: object
    ids: list[str]

    @property
    def retriever_constructor(self) -> type[BabelsearchRetriever]:
        return BabelsearchRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"embedder": self.embedder, "store": self.store, "task": "question_answering"}

    @property
    def retriever_query_example(self) -> str:
        return "Wo ist der Bahnhof?"

    def test_documents_carry_id_text_and_chunk_metadata(self):
        retriever = BabelsearchRetriever(embedder=self.embedder, store=self.store, k=5)
        docs = retriever.invoke("Where is the station?")
        assert sorted(d.id for d in docs) == sorted(self.ids)
        by_text = {d.page_content: d for d in docs}
        de = by_text["Die Züge fahren jede Stunde nach Berlin."]
        assert de.id == self.ids[1]
        assert {k: v for k, v in de.metadata.items() if k != "score"} == {
            "source": "/docs/de.txt",
            "title": "de",
            "language": "de",
            "chunk": 1,
            "start": 0,
            "end": len(de.page_content),
            "extension": "txt",
        }
        scores = [d.metadata["score"] for d in docs]
        assert scores == sorted(scores, reverse=True) and all(-1.0 <= s <= 1.0 + 1e-6 for s in scores)

    def test_language_and_source_filters_as_fields_and_per_call(self):
        retriever = BabelsearchRetriever(embedder=self.embedder, store=self.store, k=5, languages=["de"])
        assert {d.metadata["language"] for d in retriever.invoke("Bahnhof")} == {"de"}
        docs = retriever.invoke("Bahnhof", languages=["en", "fr"], k=2)
        assert len(docs) == 2 and {d.metadata["language"] for d in docs} <= {"en", "fr"}
        assert retriever.invoke("Bahnhof", sources=["/docs/fr.md"]) == []  # the field's languages=["de"] still applies
        docs = retriever.invoke("Bahnhof", sources=["/docs/fr.md"], languages=[])
        assert [d.metadata["source"] for d in docs] == ["/docs/fr.md"]
        with pytest.raises(TypeError, match="language"):
            retriever.invoke("Bahnhof", language=["de"])

    def test_task_changes_the_query_side(self):
        qa = BabelsearchRetriever(embedder=self.embedder, store=self.store, k=5, task="question_answering")
        fc = BabelsearchRetriever(embedder=self.embedder, store=self.store, k=5, task="fact_checking")
        scores = [[d.metadata["score"] for d in r.invoke("Bahnhof")] for r in (qa, fc)]
        assert scores[0] != scores[1]
        assert [d.metadata["score"] for d in qa.invoke("Bahnhof", task="fact_checking")] == scores[1]

    def test_from_settings_and_a_small_chain(self):
        settings = Settings(store=self.store.root.parent, collection="docs", model="tiny")
        retriever = BabelsearchRetriever.from_settings(settings, embedder=self.embedder, k=2)

        def format_docs(docs: list[Document]) -> str:
            return "\n".join(f"[{d.metadata['source']}#{d.metadata['chunk']}] {d.page_content}" for d in docs)

        chain = {
            "context": retriever | RunnableLambda(format_docs),
            "question": RunnablePassthrough(),
        } | RunnableLambda(lambda x: f"Answer from:\n{x['context']}\nQuestion: {x['question']}")
        prompt = chain.invoke("Wo ist der Bahnhof?")
        assert prompt.startswith("Answer from:\n[/docs/") and prompt.count("\n[") == 2
        assert prompt.endswith("Question: Wo ist der Bahnhof?")
        retriever.store.close()

    def test_a_missing_or_foreign_collection_is_refused(self, tmp_path):
        with pytest.raises(StoreError, match="index documents first"):
            BabelsearchRetriever(embedder=self.embedder, store=EdgeStore(tmp_path / "empty", "docs"))
        other = EdgeStore(tmp_path / "other", "docs")
        other.ensure_collection(self.embedder.dim, self.embedder.contract | {"adapter_sha256": "0" * 64})
        with pytest.raises(ContractMismatchError, match="adapter_sha256"):
            BabelsearchRetriever(embedder=self.embedder, store=other)
        other.close()


def test_a_folder_indexed_by_the_ingest_job_feeds_a_chain(tmp_path, tiny_embedder, monkeypatch):
    """The README flow: index a folder, open a retriever on it from the settings, use it in a chain."""
    from indexer import ingest

    # lingua's first detection loads its models (~12 s CPU here); tests/indexer/test_language.py covers it
    monkeypatch.setattr(ingest, "detect_language", lambda text: "de" if "Bahnhof" in text else "en")

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "de.txt").write_text("Der Bahnhof liegt im Stadtzentrum. Die Züge fahren jede Stunde nach Berlin.")
    (folder / "en.md").write_text("# Station\n\nThe railway station is in the city centre.")
    store = EdgeStore(tmp_path / "index", "docs")
    assert ingest.Ingestor(tiny_embedder, store).run([folder], progress=False).ok
    store.close()

    settings = Settings(store=tmp_path / "index", collection="docs")
    retriever = BabelsearchRetriever.from_settings(settings, embedder=tiny_embedder, k=2, task="question_answering")
    chain = retriever | RunnableLambda(lambda docs: [(d.metadata["source"], d.metadata["language"]) for d in docs])
    found = chain.invoke("Wo ist der Bahnhof?")
    assert sorted(found) == [((folder / "de.txt").as_posix(), "de"), ((folder / "en.md").as_posix(), "en")]
    (doc,) = retriever.invoke("Bahnhof", languages=["de"])
    assert doc.page_content.startswith("Der Bahnhof") and doc.metadata["chunk"] == 0 and "score" in doc.metadata
    retriever.store.close()
