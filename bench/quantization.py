"""int8 dynamic quantisation of the default model: query latency and STS-B English quality, before and after.

.venv/bin/python bench/quantization.py --data ../shared/data              # default model, full STS-B en test
.venv/bin/python bench/quantization.py --data ../shared/data --quick      # tiny model, 100 pairs

Variants (torch's `quantize_dynamic`: int8 weights per output channel, activations quantised per tensor at
run time, fbgemm kernels): fp32 (what ships), every Linear in int8, and int8 except the attention output and
MLP down projections (whose inputs carry Gemma's outlier activations). All variants reuse the instruction's
key/value states, as serving does. The fastest variant that keeps quality would be worth shipping; see
docs/BENCHMARKS.md for the verdict.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import time
import warnings
from pathlib import Path

import torch

from embedder import load_embedder
from embedder.evaluate.sts import load_sts_tsv, sts_spearman

QUERIES = ["Wie spät ist es gerade in Tokio?", "why do some volcanoes explode", "蜜蜂如何授粉", "как работают вакцины"]
KEEP_FP32 = ("o_proj", "down_proj")


def quantized(model: torch.nn.Module, keep_fp32: tuple[str, ...]) -> torch.nn.Module:
    """A copy of `model` with every Linear whose name has none of `keep_fp32` in int8."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    names = [
        n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and not any(k in n for k in keep_fp32)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
        return quantize_dynamic(copy.deepcopy(model), dict.fromkeys(names, per_channel_dynamic_qconfig), torch.qint8)


def query_p50_ms(embedder, rounds: int = 40) -> float:
    """Median wall time of encoding one query (web_search instruction), after a warm-up."""
    embedder.encode_queries(QUERIES[:1])
    times = []
    for i in range(rounds):
        started = time.perf_counter()
        embedder.encode_queries([QUERIES[i % len(QUERIES)]])
        times.append(time.perf_counter() - started)
    return round(sorted(times)[len(times) // 2] * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--model", default="default")
    parser.add_argument("--limit", type=int, default=None, help="First N STS-B en test pairs.")
    parser.add_argument("--quick", action="store_true", help="Tiny model, 100 pairs.")
    args = parser.parse_args()
    if args.quick:
        args.model, args.limit = "tiny", 100
    embedder = load_embedder(args.model, max_tokens=256)
    rows = load_sts_tsv(args.data / "sts" / "stsbenchmark_en_original" / "test.tsv", limit=args.limit)
    fp32 = embedder.model
    variants = {
        "fp32": lambda: fp32,
        "int8": lambda: quantized(fp32, ()),
        "int8-keep-o-down": lambda: quantized(fp32, KEEP_FP32),
    }
    results = {}
    for name, build in variants.items():
        embedder.model = build()
        results[name] = {"query_p50_ms": query_p50_ms(embedder), "stsb_en_test": round(sts_spearman(embedder, rows), 2)}
    embedder.model = fp32
    print(f"{platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads, model {args.model}, "
          f"STS-B en test {len(rows)} pairs")  # fmt: skip
    print(f"{'variant':<18} {'query p50 ms':>12} {'STS-B en':>9} {'vs fp32':>8}")
    for name, r in results.items():
        delta = round(r["stsb_en_test"] - results["fp32"]["stsb_en_test"], 2)
        print(f"{name:<18} {r['query_p50_ms']:>12} {r['stsb_en_test']:>9} {delta:>8}")
    print(json.dumps({"model": args.model, "pairs": len(rows), "results": results}))


if __name__ == "__main__":
    main()
