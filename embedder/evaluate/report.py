"""Side-by-side markdown table from several `babelsearch eval --json` files (used for docs/RESULTS.md).

.venv/bin/python -m embedder.evaluate.report minilm.json me5.json default.json [--suite sts] [--details]
    [--datasets 'stsb-de,stsb-es'] [--metric recall@1]

Partial files (a run stopped early keeps what it measured) are fine: the per-suite mean row is computed here
over the datasets that every file has, so the models are compared on the same sets.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
from pathlib import Path

import numpy as np


def markdown_table(
    payloads: list[dict],
    suite: str | None = None,
    details: bool = False,
    datasets: list[str] | None = None,
    metric: str | None = None,
) -> str:
    """One row per dataset, one column per model; Tatoeba languages only with `details`.

    Cells are the headline metric x100, or `metric` (e.g. "recall@1") for the datasets that report it;
    `datasets` keeps only names matching one of these globs (the mean row then covers just those).
    """
    names = [p["model"] for p in payloads]
    rows: dict[tuple[str, str], dict[str, float]] = {}
    for payload in payloads:
        for result in payload["results"]:
            if result["summary"] or (suite and result["suite"] != suite):
                continue
            if datasets and not any(fnmatch.fnmatch(result["dataset"], p) for p in datasets):
                continue
            if metric and metric not in result.get("metrics", {}):
                continue
            value = result["metrics"][metric] if metric else result["main"]
            rows.setdefault((result["suite"], result["dataset"]), {})[payload["model"]] = value
    lines = ["| suite | dataset | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for suite_name in dict.fromkeys(s for s, _ in rows):
        suite_rows = {d: scores for (s, d), scores in rows.items() if s == suite_name}
        for dataset, scores in suite_rows.items():
            if suite_name != "bitext" or details:
                cells = [f"{scores[n]:.2f}" if n in scores else "" for n in names]
                lines.append(f"| {suite_name} | {dataset} | " + " | ".join(cells) + " |")
        common = [scores for scores in suite_rows.values() if len(scores) == len(names)]
        if common:
            means = [f"**{np.mean([s[n] for s in common]):.2f}**" for n in names]
            lines.append(f"| {suite_name} | **mean of {len(common)} sets** | " + " | ".join(means) + " |")
    return "\n".join(lines)


def main() -> None:
    """Print the table for the JSON files named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--suite", choices=["sts", "retrieval", "bitext"])
    parser.add_argument("--details", action="store_true", help="one row per Tatoeba language")
    parser.add_argument("--datasets", help="comma-separated dataset globs, e.g. 'stsb-de,xquad-*>en'")
    parser.add_argument("--metric", help="show this metric (e.g. recall@1) instead of each suite's headline one")
    args = parser.parse_args()
    payloads = [json.loads(path.read_text()) for path in args.files]
    patterns = [p.strip() for p in args.datasets.split(",")] if args.datasets else None
    print(markdown_table(payloads, args.suite, args.details, patterns, args.metric))


if __name__ == "__main__":
    main()
