"""STS evaluation: Spearman correlation (x100) between gold scores and cosine similarity."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr


def load_sts_tsv(path: Path, limit: int | None = None) -> list[tuple[str, str, float]]:
    """Read an STS TSV (header sentence1, sentence2, score[, extra]) as (s1, s2, score) rows."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"STS file {path} not found: pass --data pointing at the shared data folder")
    rows: list[tuple[str, str, float]] = []
    with path.open(encoding="utf-8", newline="") as handle:
        # The data README guarantees no tabs/newlines inside fields, and quotes are literal text.
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        if header[:3] != ["sentence1", "sentence2", "score"]:
            raise ValueError(f"{path}: header {header[:3]} is not sentence1, sentence2, score")
        for record in reader:
            if limit is not None and len(rows) >= limit:
                break
            rows.append((record[0], record[1], float(record[2])))
    return rows


def sts_spearman(model: Any, rows: list[tuple[str, str, float]], task: str | None = "sts") -> float:
    """Spearman x100 of cosine(encode_queries(s1), encode_queries(s2)) against the gold scores."""
    if len(rows) < 2:
        raise ValueError(f"need at least 2 STS rows for a correlation, got {len(rows)}")
    first = model.encode_queries([r[0] for r in rows], task=task)
    second = model.encode_queries([r[1] for r in rows], task=task)
    # Normalise again so models that return unnormalised vectors still give cosine.
    first = first / np.linalg.norm(first, axis=1, keepdims=True).clip(min=1e-12)
    second = second / np.linalg.norm(second, axis=1, keepdims=True).clip(min=1e-12)
    cosine = (first * second).sum(axis=1)
    return float(spearmanr(cosine, [r[2] for r in rows]).statistic * 100)
