"""One Linear layer of Gemma-3-270M: MKL fp32 (`F.linear`) vs fbgemm fp16 weights, by number of token rows.

.venv/bin/python bench/linear_kernels.py            # rows 1, 10, 64, 512, 4096
.venv/bin/python bench/linear_kernels.py --quick    # rows 1, 10, 64

A single query forwards ~10 rows through 126 such layers; indexing forwards thousands. Both kernels run in
the same process on the same random weights, alternating, best of two timings kept; the last column is the
largest absolute difference of their outputs (fp16 rounding of the weights).
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

SHAPES = {"q/o, 640->1024": (640, 1024), "gate/up, 640->2048": (640, 2048), "down, 2048->640": (2048, 640)}


def microseconds(fn, rows: int) -> float:
    """Mean time of one call, over enough calls for ~2M row-products."""
    calls = max(3, 2000 // rows)
    fn()
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="Only 1, 10 and 64 rows.")
    args = parser.parse_args()
    torch.manual_seed(0)
    rows_list = (1, 10, 64) if args.quick else (1, 10, 64, 512, 4096)
    results = []
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'layer':<20} {'rows':>5} {'fp32 us':>9} {'fp16w us':>9} {'speed-up':>9} {'max diff':>9}")
    for label, (fan_in, fan_out) in SHAPES.items():
        weight = torch.randn(fan_out, fan_in) * 0.02
        packed = torch.ops.quantized.linear_prepack_fp16(weight, None)
        for rows in rows_list:
            x = torch.randn(rows, fan_in)
            fp32_us = fp16_us = float("inf")
            for _ in range(2):
                fp32_us = min(fp32_us, microseconds(lambda x=x, w=weight: F.linear(x, w), rows))
                fp16_us = min(
                    fp16_us, microseconds(lambda x=x, p=packed: torch.ops.quantized.linear_dynamic_fp16(x, p), rows)
                )
            diff = (F.linear(x, weight) - torch.ops.quantized.linear_dynamic_fp16(x, packed)).abs().max().item()
            row = {"layer": label, "rows": rows, "fp32_us": round(fp32_us), "fp16w_us": round(fp16_us)}
            row |= {"speedup": round(fp32_us / fp16_us, 2), "max_diff": float(f"{diff:.1e}")}
            results.append(row)
            print(f"{label:<20} {rows:>5} {row['fp32_us']:>9} {row['fp16w_us']:>9} {row['speedup']:>9} {diff:>9.1e}")
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "results": results}))


if __name__ == "__main__":
    main()
