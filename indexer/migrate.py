"""Move a collection between stores (embedded -> server) through a portable export file.

The file is gzipped JSON lines: a header with the embedder contract and vector size, then one point per line
(id, vector, payload). Import is idempotent and resumable: points are upserted by id in batches and batches
already present in the target are skipped, so re-running after a crash only sends what is missing.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from indexer.store.base import Point, Store, StoreError

FORMAT = "babelsearch-export/1"


@dataclass
class ImportReport:
    """How many points an import wrote and how many were already there."""

    written: int = 0
    already_present: int = 0


def export_collection(store: Store, out: Path) -> int:
    """Write every point of `store` (with vectors) to `out`; returns the number of points."""
    contract = store.contract()
    if contract is None:
        raise StoreError("nothing to export: the collection does not exist or has no embedder contract")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    count = 0
    with gzip.open(tmp, "wt", encoding="utf-8") as handle:
        header = {"format": FORMAT, "contract": contract, "dim": contract.get("dim")}
        handle.write(json.dumps(header, ensure_ascii=False) + "\n")
        for point in store.scroll(with_vectors=True, batch_size=512):
            handle.write(json.dumps({"id": point.id, "vector": point.vector, "payload": point.payload}) + "\n")
            count += 1
    os.replace(tmp, out)  # a crashed export never leaves a truncated file under the final name
    return count


def read_export(path: Path) -> tuple[dict, Iterator[Point]]:
    """Return an export file's header and an iterator over its points."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        header = json.loads(handle.readline() or "{}")
    if header.get("format") != FORMAT:
        raise StoreError(f"{path} is not a babelsearch export (expected format {FORMAT!r}); make one with `export`")

    def points() -> Iterator[Point]:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            next(handle)  # the header
            for line in handle:
                row = json.loads(line)
                yield Point(row["id"], row["vector"], row["payload"])

    return header, points()


def import_collection(path: Path, store: Store, batch_size: int = 256) -> ImportReport:
    """Load an export file into `store`, creating the collection with the exported contract."""
    header, points = read_export(path)
    store.ensure_collection(int(header["dim"]), header["contract"])
    report = ImportReport()
    batch: list[Point] = []
    for point in points:
        batch.append(point)
        if len(batch) == batch_size:
            _import_batch(store, batch, report)
            batch = []
    _import_batch(store, batch, report)
    store.optimize()
    return report


def _import_batch(store: Store, batch: list[Point], report: ImportReport) -> None:
    if not batch:
        return
    present = {p.id for p in store.retrieve([p.id for p in batch])}
    missing = [p for p in batch if p.id not in present]
    store.upsert(missing)
    report.written += len(missing)
    report.already_present += len(present)
