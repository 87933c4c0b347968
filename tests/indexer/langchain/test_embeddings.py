"""BabelsearchEmbeddings: LangChain's standard embeddings suites on the tiny backbone, plus the two sides."""

from __future__ import annotations

import numpy as np
import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from indexer.langchain import BabelsearchEmbeddings

# The standard suites' async tests carry no marker; pytest-asyncio (strict mode) runs them when marked.
pytestmark = [pytest.mark.asyncio, pytest.mark.filterwarnings("ignore:.*is marked with '@pytest.mark.asyncio'")]

TINY = {"model": "tiny", "dtype": "float32", "device": "cpu"}


class TestBabelsearchEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[BabelsearchEmbeddings]:
        return BabelsearchEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return TINY


class TestBabelsearchEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[BabelsearchEmbeddings]:
        return BabelsearchEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return TINY


def test_construction_does_not_load_the_model():
    assert BabelsearchEmbeddings(model="no-such-model").embedder is None


def test_query_and_document_sides_match_the_embedder(tiny_embedder):
    embeddings = BabelsearchEmbeddings(embedder=tiny_embedder, task="question_answering")
    query = embeddings.embed_query("Wo ist der Bahnhof?")
    documents = embeddings.embed_documents(["Der Bahnhof liegt im Stadtzentrum.", "A cat sleeps."])
    assert type(query[0]) is float and len(query) == tiny_embedder.dim
    expected_q = tiny_embedder.encode_queries(["Wo ist der Bahnhof?"], task="question_answering")[0]
    expected_d = tiny_embedder.encode_documents(["Der Bahnhof liegt im Stadtzentrum.", "A cat sleeps."])
    np.testing.assert_allclose(query, expected_q, atol=1e-6)
    np.testing.assert_allclose(documents, expected_d, atol=1e-6)
    # the same text differs by side and by task: each side carries its own instruction
    assert not np.allclose(embeddings.embed_query("A cat sleeps."), documents[1], atol=1e-4)
    other_task = BabelsearchEmbeddings(embedder=tiny_embedder, task="fact_checking")
    assert not np.allclose(other_task.embed_query("Wo ist der Bahnhof?"), query, atol=1e-4)


def test_contract_is_the_embedders(tiny_embedder):
    assert BabelsearchEmbeddings(embedder=tiny_embedder).contract == tiny_embedder.contract
    assert BabelsearchEmbeddings(embedder=tiny_embedder).embed_documents([]) == []
