"""Resident memory of a loaded embedder: plain fp32 vs the CPU serving layers, each in a fresh process.

.venv/bin/python bench/serving_memory.py            # default model
.venv/bin/python bench/serving_memory.py --quick    # tiny model (seconds)

Each variant loads in its own Python process (so one's freed memory cannot hide in the other's heap), encodes
one query, and reports its resident set (VmRSS) after loading and after the query, its peak (ru_maxrss, the
load included), and the query vector; the vectors of the two variants are compared by cosine.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys

import numpy as np

CHILD = """
import json, resource, sys
from embedder import load_embedder

def rss_mb():
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmRSS:")).split()[1]) // 1024

embedder = load_embedder(sys.argv[1], optimize_for_cpu=None if sys.argv[2] == "served" else False)
loaded = rss_mb()
vector = embedder.encode_queries(["Wie erkenne ich eine verschlissene Fahrradkette?"], task="web_search")[0]
print(json.dumps({"rss_loaded_mb": loaded, "rss_after_query_mb": rss_mb(),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, "vector": vector.tolist()}))
"""
VARIANTS = ("fp32", "served")


def measure(model: str, variant: str) -> dict:
    """Run one variant in a fresh interpreter and return its figures."""
    done = subprocess.run([sys.executable, "-c", CHILD, model, variant], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--quick", action="store_true", help="Tiny model.")
    args = parser.parse_args()
    if args.quick:
        args.model = "tiny"
    results = {variant: measure(args.model, variant) for variant in VARIANTS}
    vectors = {variant: np.array(results[variant].pop("vector")) for variant in VARIANTS}
    cosine = float(vectors["fp32"] @ vectors["served"])
    print(f"{platform.machine()}, {sys.executable}, model {args.model}")
    print(f"{'variant':<8} {'RSS loaded MB':>13} {'RSS after query MB':>18} {'peak MB':>8}")
    for variant, r in results.items():
        print(f"{variant:<8} {r['rss_loaded_mb']:>13} {r['rss_after_query_mb']:>18} {r['peak_mb']:>8}")
    ratio = round(results["served"]["rss_after_query_mb"] / results["fp32"]["rss_after_query_mb"], 3)
    print(f"query vector cosine fp32 vs served: {cosine:.6f}")
    print(json.dumps({"model": args.model, "results": results, "served_vs_fp32_rss": ratio, "cosine": cosine}))


if __name__ == "__main__":
    main()
