"""LangChain faces of babelsearch: the embedder as `Embeddings`, a retriever over an indexed collection,
and a `VectorStore` over the project's store backends (qdrant-edge or a Qdrant server).

    from indexer.langchain import BabelsearchEmbeddings, BabelsearchRetriever, BabelsearchVectorStore

The retriever reads collections built by `babelsearch index` (chunk payloads: text, source, language, chunk,
...). The vector store works with any LangChain `Embeddings`: it maps string ids to uuid5 point ids (Qdrant
accepts only uuids and integers), keeps the caller's id in the payload and returns it as `Document.id`, and
returns metadata exactly as given. Both refuse a collection built with other embeddings (the stored contract).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import VectorStore
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from babelsearch.config import Settings
from indexer.store.base import ContractMismatchError, Point, ScoredPoint, Store, StoreError, describe_contract_mismatch

__all__ = ["BabelsearchEmbeddings", "BabelsearchRetriever", "BabelsearchVectorStore", "point_id"]

# Fixed forever: point ids of LangChain documents are uuid5(LANGCHAIN_ID_NAMESPACE, the caller's id).
LANGCHAIN_ID_NAMESPACE = uuid.UUID("b3c1d2e4-5f60-4a7b-8c9d-0e1f2a3b4c5d")
ID_FIELD = "langchain_id"  # payload field holding the caller's id of a point written by the vector store
CHUNK_FIELDS = ("source", "title", "language", "chunk", "start", "end", "record")  # from indexer.ingest payloads


def point_id(doc_id: str) -> str:
    """The Qdrant point id of a document id: the id itself when it is a uuid, else its uuid5."""
    try:
        return str(uuid.UUID(doc_id))
    except (ValueError, TypeError, AttributeError):
        return str(uuid.uuid5(LANGCHAIN_ID_NAMESPACE, str(doc_id)))


def _to_document(point: Point | ScoredPoint) -> Document:
    """A stored point as a Document: vector-store points as written, ingested chunks with their fields."""
    payload = point.payload
    if ID_FIELD in payload:
        return Document(
            id=payload[ID_FIELD], page_content=payload.get("text", ""), metadata=payload.get("metadata") or {}
        )
    metadata = dict(payload.get("metadata") or {})
    metadata.update({key: payload[key] for key in CHUNK_FIELDS if payload.get(key) is not None})
    return Document(id=point.id, page_content=payload.get("text", ""), metadata=metadata)


# -- embeddings ------------------------------------------------------------------------------------------
class BabelsearchEmbeddings(BaseModel, Embeddings):
    """The babelsearch embedder: queries get the query-side instruction of `task`, documents the document side.

    The model loads on first use (`model` is a name for `embedder.load_embedder`: "default", "tiny", a
    backbone or a saved embedder folder); pass `embedder=` to share one already loaded.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    model: str = "default"
    task: str | None = Field(default="web_search", description="task short name or instruction sentence")
    batch_size: int = 32
    dtype: str = "auto"
    device: str | None = "auto"
    embedder: Any = Field(default=None, exclude=True, description="an already loaded embedder.Embedder")
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def get_embedder(self) -> Any:
        """The underlying `embedder.Embedder`, loaded once (thread-safe: async calls run in threads)."""
        if self.embedder is None:
            with self._lock:
                if self.embedder is None:
                    from embedder import load_embedder  # lazy: importing torch costs seconds

                    self.embedder = load_embedder(self.model, dtype=self.dtype, device=self.device)
        return self.embedder

    @property
    def contract(self) -> dict:
        """The embedder contract a collection built with these embeddings stores (loads the model)."""
        return self.get_embedder().contract

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents with the document-side instruction."""
        return self.get_embedder().encode_documents(list(texts), batch_size=self.batch_size).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one query with the query-side instruction of `task`."""
        return self.get_embedder().encode_queries([text], task=self.task, batch_size=self.batch_size)[0].tolist()


# -- retriever -------------------------------------------------------------------------------------------
class BabelsearchRetriever(BaseRetriever):
    """The k best chunks of an indexed babelsearch collection for a query, optionally filtered.

    Documents carry `id` (the point id) and metadata source, title, language, chunk, start, end, score
    (cosine similarity) plus the source document's own metadata. `k`, `task`, `languages` and `sources`
    can also be given per call, replacing the field for that call: `retriever.invoke("query", k=3, languages=["de"])`
    (`languages=[]` searches every language).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    embedder: Any = Field(description="the embedder.Embedder the collection was built with")
    store: Any = Field(description="an indexer.store backend (EdgeStore, ServerStore) holding the collection")
    k: int = 4
    task: str | None = "web_search"
    languages: list[str] | None = None
    sources: list[str] | None = None

    @model_validator(mode="after")
    def _check_collection(self) -> BabelsearchRetriever:
        stored = self.store.contract()
        name = getattr(self.store, "collection", "?")
        if stored is None:
            raise StoreError(
                f"collection {name!r} does not exist or is empty: index documents first (`babelsearch index PATH`)"
            )
        current = self.embedder.contract
        if stored != current:
            raise ContractMismatchError(describe_contract_mismatch(name, stored, current))
        return self

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, embedder: Any = None, **fields: Any
    ) -> BabelsearchRetriever:
        """Open the store and model the settings name (`BABELSEARCH_*` env vars by default)."""
        from indexer.store import open_store

        settings = settings or Settings()
        if embedder is None:
            from embedder import load_embedder

            embedder = load_embedder(settings.model)
        return cls(embedder=embedder, store=open_store(settings), **fields)

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        task: str | None = None,
        languages: list[str] | None = None,
        sources: list[str] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        unknown = set(kwargs) - {"verbose"}
        if unknown:
            raise TypeError(f"unknown retriever arguments {sorted(unknown)}: use k, task, languages, sources")
        k = self.k if k is None else k
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        task = self.task if task is None else task
        languages = self.languages if languages is None else languages  # [] clears the field's filter
        sources = self.sources if sources is None else sources
        vector = self.embedder.encode_queries([query], task=task)[0].tolist()
        filters = {"language": languages, "source": sources}
        points = self.store.search(vector, k, {f: list(v) for f, v in filters.items() if v} or None)
        documents = [_to_document(p) for p in points]
        for document, point in zip(documents, points, strict=True):
            document.metadata["score"] = point.score  # each document's metadata is a fresh dict
        return documents


# -- vector store ----------------------------------------------------------------------------------------
def describe_embeddings(embeddings: Embeddings, dim: int) -> dict:
    """The contract stored for embeddings: the embedder's own for babelsearch, else class, model and dim."""
    if isinstance(embeddings, BabelsearchEmbeddings):
        return embeddings.contract
    cls = type(embeddings)
    contract: dict[str, Any] = {"embeddings": f"{cls.__module__}.{cls.__qualname__}", "dim": dim}
    model = getattr(embeddings, "model", None) or getattr(embeddings, "model_name", None)
    if isinstance(model, str):
        contract["model"] = model
    return contract


class BabelsearchVectorStore(VectorStore):
    """A LangChain vector store over one collection of an `indexer.store` backend, with any Embeddings.

    The collection is created on the first write with the embeddings' contract; reads and writes under
    other embeddings raise ContractMismatchError. Points written here keep the caller's string id in
    the payload (`langchain_id`); `filter` arguments map a payload field to allowed values
    (e.g. `{"metadata.lang": ["de"]}`, or `{"language": ["de"]}` on an ingested collection).
    """

    def __init__(self, store: Store, embedding: Embeddings, batch_size: int = 64, contract: dict | None = None):
        self.store = store
        self._embedding = embedding
        self.batch_size = batch_size
        self._contract = contract  # None: described from the embeddings once their dim is known
        self._checked = False

    @property
    def embeddings(self) -> Embeddings:
        """The embeddings used for queries and documents."""
        return self._embedding

    def _check_contract(self, dim: int) -> dict:
        """Our contract, after checking it against the stored one (once per instance)."""
        if self._contract is None:
            self._contract = describe_embeddings(self._embedding, dim)
        if not self._checked:
            stored = self.store.contract()
            if stored is not None and stored != self._contract:
                name = getattr(self.store, "collection", "?")
                raise ContractMismatchError(describe_contract_mismatch(name, stored, self._contract))
            self._checked = stored is not None
        return self._contract

    # -- writes ------------------------------------------------------------------------------------------
    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict] | None = None,
        *,
        ids: Sequence[str | None] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and upsert texts; ids given again overwrite their documents; missing ids are generated."""
        texts = list(texts)
        metadatas = list(metadatas) if metadatas is not None else [{} for _ in texts]
        ids = list(ids) if ids is not None else [None] * len(texts)
        if not len(texts) == len(metadatas) == len(ids):
            raise ValueError(f"got {len(texts)} texts, {len(metadatas)} metadatas and {len(ids)} ids: pass one each")
        ids = [str(i) if i is not None else str(uuid.uuid4()) for i in ids]
        for start in range(0, len(texts), self.batch_size):
            part = slice(start, start + self.batch_size)
            vectors = self._embedding.embed_documents(texts[part])
            contract = self._check_contract(len(vectors[0]))
            self.store.ensure_collection(len(vectors[0]), contract)
            self.store.upsert(
                [
                    Point(point_id(i), [float(x) for x in v], {"text": t, "metadata": dict(m or {}), ID_FIELD: i})
                    for t, m, i, v in zip(texts[part], metadatas[part], ids[part], vectors, strict=True)
                ]
            )
        return ids

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete documents by id (missing ids are ignored); refuses ids=None rather than drop everything."""
        if ids is None:
            raise ValueError("delete needs ids; to empty a collection, delete its folder or use a new collection")
        if ids and self.store.exists():
            self.store.delete([point_id(i) for i in ids])
        return True

    # -- reads -------------------------------------------------------------------------------------------
    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Documents for the ids that exist (order not guaranteed)."""
        return [_to_document(p) for p in self.store.retrieve([point_id(i) for i in ids])] if ids else []

    def similarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = 4, filter: dict[str, list] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """The k nearest documents to a vector with their cosine similarity, best first."""
        if not self.store.exists():
            return []
        self._check_contract(len(embedding))
        return [(_to_document(p), p.score) for p in self.store.search(list(embedding), k, filter)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: dict[str, list] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """The k documents most similar to the query (query-side embedding) with their cosine similarity."""
        if not self.store.exists():  # saves embedding a query against nothing
            return []
        return self.similarity_search_with_score_by_vector(self._embedding.embed_query(query), k, filter)

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: dict[str, list] | None = None, **kwargs: Any
    ) -> list[Document]:
        """The k nearest documents to a vector."""
        return [doc for doc, _ in self.similarity_search_with_score_by_vector(embedding, k, filter)]

    def similarity_search(
        self, query: str, k: int = 4, filter: dict[str, list] | None = None, **kwargs: Any
    ) -> list[Document]:
        """The k documents most similar to the query."""
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter)]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return lambda cosine: min(1.0, max(0.0, (cosine + 1.0) / 2.0))  # cosine in [-1, 1] (+ float error) -> [0, 1]

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        store: Store | None = None,
        settings: Settings | None = None,
        collection: str = "langchain",
        **kwargs: Any,
    ) -> BabelsearchVectorStore:
        """A vector store holding `texts`: in `store`, in the store `settings` name, else in memory."""
        if store is None and settings is not None:
            from indexer.store import open_store

            store = open_store(settings)
        elif store is None:
            from indexer.store.server import ServerStore

            store = ServerStore(location=":memory:", collection=collection)
        vectorstore = cls(store, embedding, **kwargs)
        vectorstore.add_texts(texts, metadatas, ids=ids)
        return vectorstore
