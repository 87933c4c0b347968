"""Lower-precision weights for the default model: query latency and STS-B English quality, side by side.

.venv/bin/python bench/quantization.py --data ../shared/data              # default model, full STS-B en test
.venv/bin/python bench/quantization.py --data ../shared/data --quick      # tiny model, 100 pairs

Variants, all on fbgemm kernels and reusing the instruction's key/value states as serving does: plain fp32;
fp16 weight matrices, fp16 embedding table and fused RMSNorm (what `load_embedder` serves on CPU); torch's
`quantize_dynamic` int8 (weights per output channel, activations per tensor, 7-bit `reduce_range`), for every
Linear and without the attention output and MLP down projections (whose inputs carry Gemma's outlier
activations); and int8 with activations scaled per token (full 8-bit range). Verdict: docs/BENCHMARKS.md.
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
from embedder.loading import serve_on_cpu

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


class PerTokenInt8Linear(torch.nn.Module):
    """int8 Linear whose activations are scaled per token: each row is divided by its max |x| before fbgemm's
    per-tensor quantisation and multiplied back after, so one outlier token no longer coarsens the others."""

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        weight = linear.weight.detach().float()
        scales = (weight.abs().amax(1) / 127).clamp_min(1e-8).double()
        zero_points = torch.zeros(weight.shape[0], dtype=torch.long)
        quantized_weight = torch.quantize_per_channel(weight, scales, zero_points, 0, torch.qint8)
        self.packed = torch.ops.quantized.linear_prepack(quantized_weight, linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, x.shape[-1])
        peak = rows.abs().amax(1, keepdim=True).clamp_min(1e-12)
        out = torch.ops.quantized.linear_dynamic(rows / peak, self.packed, False) * peak
        return out.reshape(*x.shape[:-1], out.shape[-1])


def per_token_int8(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of `model` with every Linear replaced by PerTokenInt8Linear."""
    model = copy.deepcopy(model)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.Linear):
                setattr(parent, name, PerTokenInt8Linear(child))
    return model


def fp16_served(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of `model` as load_embedder serves it on CPU (embedder.loading.serve_on_cpu)."""
    return serve_on_cpu(copy.deepcopy(model))


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
    embedder = load_embedder(args.model, max_tokens=256, optimize_for_cpu=False)
    embedder.use_lean_forward = False  # every variant through transformers' forward: only the weights differ
    rows = load_sts_tsv(args.data / "sts" / "stsbenchmark_en_original" / "test.tsv", limit=args.limit)
    fp32 = embedder.model
    variants = {
        "fp32": lambda: fp32,
        "fp16-weights": lambda: fp16_served(fp32),
        "int8": lambda: quantized(fp32, ()),
        "int8-keep-o-down": lambda: quantized(fp32, KEEP_FP32),
        "int8-per-token": lambda: per_token_int8(fp32),
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
