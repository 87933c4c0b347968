"""Kill -9 the ingestion job at random moments: every re-run must converge to the uninterrupted point set."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from indexer.store.edge import EdgeStore

REPO_ROOT = Path(__file__).resolve().parents[2]
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
]


def _write_corpus(root: Path, files: int) -> None:
    rng = random.Random(7)
    for n in range(files):
        paragraphs = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60))) + "." for _ in range(3)]
        (root / f"doc{n:03d}.txt").write_text("\n\n".join(paragraphs))


def _index_command(corpus: Path, store: Path) -> list[str]:
    return [sys.executable, "-m", "babelsearch", "index", str(corpus), "--store", str(store), "--model", "tiny",
            "--max-tokens", "24", "--overlap", "4", "--quiet"]  # fmt: skip


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}


def _point_set(store_dir: Path) -> dict[str, tuple]:
    store = EdgeStore(store_dir)
    points = {p.id: (p.payload["source"], p.payload["chunk"], p.payload["text"]) for p in store.scroll()}
    count = store.count()
    store.close()
    assert count == len(points)
    return points


@pytest.mark.slow
def test_sigkill_at_random_points_then_rerun_gives_the_uninterrupted_point_set(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _write_corpus(corpus, files=300)

    started = time.perf_counter()
    subprocess.run(_index_command(corpus, tmp_path / "reference"), env=_env(), check=True, timeout=600)
    full_run_s = time.perf_counter() - started
    reference = _point_set(tmp_path / "reference")
    assert len(reference) > 600

    rng = random.Random(11)
    crashed = tmp_path / "crashed"
    partial_counts = []
    for _ in range(3):
        process = subprocess.Popen(_index_command(corpus, crashed), env=_env())
        time.sleep(rng.uniform(0.35, 0.9) * full_run_s)
        process.send_signal(signal.SIGKILL)
        process.wait()
        partial = _point_set(crashed) if (crashed / "babelsearch" / "contract.json").exists() else {}
        assert partial.items() <= reference.items()  # only complete, correct points survive a crash
        partial_counts.append(len(partial))
    subprocess.run(_index_command(corpus, crashed), env=_env(), check=True, timeout=600)

    assert _point_set(crashed) == reference
    assert any(0 < n < len(reference) for n in partial_counts), f"no kill landed mid-run: {partial_counts}"
