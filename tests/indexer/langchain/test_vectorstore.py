"""BabelsearchVectorStore: LangChain's standard vector-store suite on both backends, plus ids and contracts."""

from __future__ import annotations

import uuid

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.vectorstores import VectorStore, VectorStoreRetriever
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from indexer.langchain import ID_FIELD, LANGCHAIN_ID_NAMESPACE, BabelsearchEmbeddings, BabelsearchVectorStore, point_id
from indexer.store.base import ContractMismatchError
from indexer.store.edge import EdgeStore
from indexer.store.server import ServerStore

# The standard suite's async tests carry no marker; pytest-asyncio (strict mode) runs them when marked.
pytestmark = [pytest.mark.asyncio, pytest.mark.filterwarnings("ignore:.*is marked with '@pytest.mark.asyncio'")]


class TestEdgeVectorStore(VectorStoreIntegrationTests):
    """The embedded backend: qdrant-edge in a fresh folder per test."""

    @pytest.fixture
    def vectorstore(self, tmp_path) -> VectorStore:
        store = EdgeStore(tmp_path / "index", "langchain")
        yield BabelsearchVectorStore(store, self.get_embeddings())
        store.close()


class TestServerVectorStore(VectorStoreIntegrationTests):
    """The server backend: qdrant-client in local mode (in memory), a fresh client per test."""

    @pytest.fixture
    def vectorstore(self) -> VectorStore:
        store = ServerStore(location=":memory:", collection="langchain")
        yield BabelsearchVectorStore(store, self.get_embeddings())
        store.close()


@pytest.fixture(params=["edge", "server-local"])
def store(request, tmp_path):
    s = EdgeStore(tmp_path / "index", "docs") if request.param == "edge" else ServerStore(location=":memory:")
    yield s
    s.close()


def test_string_ids_become_uuid5_points_and_come_back_as_given(store):
    vs = BabelsearchVectorStore(store, DeterministicFakeEmbedding(size=8))
    given_uuid = str(uuid.uuid4())
    ids = vs.add_texts(["a", "b", "c"], [{"k": [1, "x"]}, {}, {"nested": {"n": None}}], ids=["doc-1", given_uuid, None])
    assert ids[:2] == ["doc-1", given_uuid] and uuid.UUID(ids[2])
    assert point_id("doc-1") == str(uuid.uuid5(LANGCHAIN_ID_NAMESPACE, "doc-1"))
    assert point_id(given_uuid) == given_uuid  # a uuid is already a valid Qdrant id: kept as is
    (point,) = store.retrieve([point_id("doc-1")])
    assert point.payload == {"text": "a", "metadata": {"k": [1, "x"]}, ID_FIELD: "doc-1"}
    docs = {d.id: d for d in vs.get_by_ids(ids)}
    assert docs["doc-1"].metadata == {"k": [1, "x"]} and docs[ids[2]].metadata == {"nested": {"n": None}}
    assert store.contract() == {
        "embeddings": "langchain_core.embeddings.fake.DeterministicFakeEmbedding",
        "dim": 8,
    }


def test_other_embeddings_are_refused(store):
    BabelsearchVectorStore(store, DeterministicFakeEmbedding(size=8)).add_texts(["a"])
    with pytest.raises(ContractMismatchError, match="dim: stored 8, now 4"):
        BabelsearchVectorStore(store, DeterministicFakeEmbedding(size=4)).similarity_search("a")
    with pytest.raises(ContractMismatchError):
        BabelsearchVectorStore(store, DeterministicFakeEmbedding(size=4)).add_texts(["b"])


def test_delete_without_ids_is_refused(store):
    with pytest.raises(ValueError, match="delete needs ids"):
        BabelsearchVectorStore(store, DeterministicFakeEmbedding(size=8)).delete()


def test_from_texts_scores_filters_and_as_retriever():
    vs = BabelsearchVectorStore.from_texts(
        ["guten Tag", "good day", "bonjour"],
        DeterministicFakeEmbedding(size=8),
        metadatas=[{"lang": "de"}, {"lang": "en"}, {"lang": "fr"}],
        ids=["de", "en", "fr"],
    )
    (doc, score), *_ = vs.similarity_search_with_score("good day", k=3)
    assert doc == Document(id="en", page_content="good day", metadata={"lang": "en"}) and score == pytest.approx(1.0)
    assert {d.id for d in vs.similarity_search("good day", k=3, filter={"metadata.lang": ["de", "fr"]})} == {"de", "fr"}
    (_, relevance), *_ = vs.similarity_search_with_relevance_scores("good day", k=1)
    assert relevance == pytest.approx(1.0)
    retriever = vs.as_retriever(search_kwargs={"k": 2})
    assert isinstance(retriever, VectorStoreRetriever)
    assert retriever.invoke("good day")[0].id == "en" and len(retriever.invoke("good day")) == 2


def test_babelsearch_embeddings_store_the_embedder_contract(tmp_path, tiny_embedder):
    store = EdgeStore(tmp_path / "index", "docs")
    try:
        vs = BabelsearchVectorStore(store, BabelsearchEmbeddings(embedder=tiny_embedder))
        vs.add_documents([Document(page_content="Der Bahnhof liegt im Stadtzentrum.", id="bahnhof")])
        assert store.contract() == tiny_embedder.contract
        assert vs.similarity_search("Wo ist der Bahnhof?", k=1)[0].id == "bahnhof"
    finally:
        store.close()
