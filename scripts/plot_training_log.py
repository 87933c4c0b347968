"""Plot a training run's log.jsonl (loss per step, STS-B dev Spearman where measured) to a PNG.

    .venv/bin/python scripts/plot_training_log.py runs/default/log.jsonl embedder/adapters/default/loss.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main(log_path: str, png_path: str) -> None:
    rows = [json.loads(line) for line in Path(log_path).read_text().splitlines() if line.strip()]
    fig, loss_axis = plt.subplots(figsize=(6, 3.5))
    loss_axis.plot([r["step"] for r in rows], [r["loss"] for r in rows], label="InfoNCE loss")
    loss_axis.set_xlabel("step")
    loss_axis.set_ylabel("loss")
    evals = [r for r in rows if "stsb_dev_spearman" in r]
    if evals:
        sts_axis = loss_axis.twinx()
        sts_axis.plot([r["step"] for r in evals], [r["stsb_dev_spearman"] for r in evals], "o-", color="C1")
        sts_axis.set_ylabel("STS-B dev Spearman", color="C1")
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)


if __name__ == "__main__":
    main(*sys.argv[1:3])
