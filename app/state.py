"""What the page needs besides widgets: the shared model/store/searcher, query checks, filter options, uploads.

Everything here is plain Python (tested without a browser); `page.py` only lays out widgets around it.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import streamlit as st

from babelsearch.config import Settings
from embedder.instructions import TASKS
from indexer.ingest import Failure, Ingestor, IngestReport
from indexer.language import detect_language
from indexer.search import MAX_QUERY_CHARS, Searcher
from indexer.store import Store, open_store

CUSTOM_TASK = "custom"
UPLOADS_DIR = "uploads"
SAMPLE_CORPUS = Path(__file__).resolve().parents[1] / "samples" / "corpus"


# -- resources: one of each per process ----------------------------------------------------------------
# Keyed by the settings as JSON, so a test (or a second store) gets its own entries and nothing else does.
def settings_key(settings: Settings) -> str:
    """The cache key of a configuration."""
    return settings.model_dump_json()


@st.cache_resource(show_spinner="Loading the embedder (once per server process)…")
def shared_embedder(model: str):
    """The embedder named by `model`, loaded once per process."""
    from embedder import load_embedder

    return load_embedder(model)


@st.cache_resource(show_spinner=False)
def shared_store(key: str) -> Store:
    """The store the settings name; qdrant-edge allows one open shard per folder per process."""
    return open_store(Settings.model_validate_json(key))


@st.cache_resource(show_spinner=False)
def shared_searcher(key: str) -> Searcher:
    """A searcher over the shared store and embedder (raises ContractMismatchError for another embedder)."""
    settings = Settings.model_validate_json(key)
    return Searcher(shared_embedder(settings.model), shared_store(key))


# -- the query form ------------------------------------------------------------------------------------
def task_label(task: str) -> str:
    """Readable name of a task preset: `question_answering` -> `question answering`."""
    return "custom instruction…" if task == CUSTOM_TASK else task.replace("_", " ")


def task_options() -> list[str]:
    """The task presets of the instruction table (one per distinct instruction), then `custom`."""
    seen: set[str] = set()
    names = []
    for name, instruction in TASKS.items():
        if instruction not in seen:  # `sts` repeats `similar_text`
            seen.add(instruction)
            names.append(name)
    return [*names, CUSTOM_TASK]


class QueryInputError(ValueError):
    """The form's input cannot be searched; the message tells the user what to change."""


def choose_instruction(task: str, custom: str) -> str:
    """The task for Searcher.search: the preset name, or the custom instruction sentence."""
    if task != CUSTOM_TASK:
        return task
    custom = " ".join(custom.split())
    if not custom:
        raise QueryInputError(
            "You picked a custom instruction: write it in the instruction field, "
            "e.g. “Given a recipe question, retrieve passages that answer it”."
        )
    if " " not in custom:  # resolve_task would read one word as a preset name
        raise QueryInputError(
            f"A custom instruction is a sentence, not one word ({custom!r}): "
            "describe the task, e.g. “Retrieve passages about the same product”."
        )
    return custom


def query_notice(query: str) -> str | None:
    """A note for a query the searcher will shorten, else None."""
    if len(query.strip()) > MAX_QUERY_CHARS:
        return (
            f"Your query is {len(query):,} characters long; the search used its first {MAX_QUERY_CHARS:,} "
            "characters (the model itself reads only the first few hundred words). "
            "A sentence or a paragraph works best."
        )
    return None


def query_language(query: str, detected: str | None) -> str | None:
    """The query's language: the searcher's guess, else lingua's short-text models (most queries are short;
    the searcher's quick detection answers None below ~140 letters). Loads ~1 GB once per process."""
    return detected or detect_language(query.strip()[:MAX_QUERY_CHARS], accurate_short_text=True)


# -- filters -------------------------------------------------------------------------------------------
def language_options(stats: dict) -> list[str]:
    """Language codes present in the collection, most chunks first (`und` = undetermined, last)."""
    counts: dict[str, int] = stats.get("languages") or {}
    return sorted(counts, key=lambda code: (code == "und", -counts[code], code))


def source_labels(sources: Sequence[str]) -> dict[str, str]:
    """Source path -> short label: the path below the folder all sources share."""
    if not sources:
        return {}
    if len(sources) == 1:
        return {sources[0]: Path(sources[0]).name}
    try:
        root = os.path.commonpath(list(sources))
    except ValueError:  # mixed absolute and relative paths
        return {s: s for s in sources}
    return {s: os.path.relpath(s, root) if s != root else Path(s).name for s in sources}


# -- uploads -------------------------------------------------------------------------------------------
_UNSAFE_NAME = re.compile(r"[^\w.\- ]+", re.UNICODE)


def safe_filename(name: str) -> str:
    """A file name that cannot leave its folder or hide: no path parts, no leading dots, no odd characters."""
    base = _UNSAFE_NAME.sub("_", Path(name.replace("\\", "/")).name).strip(" .")
    return base or "upload"


def save_uploads(files: Sequence[tuple[str, bytes]], store_dir: Path) -> tuple[Path, dict[Path, str]]:
    """Write (name, content) pairs to a new folder under `store_dir/uploads/`; return it and path -> name."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = Path(store_dir) / UPLOADS_DIR / f"{stamp}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    saved: dict[Path, str] = {}
    for name, content in files:
        target = folder / safe_filename(name)
        stem, suffix, n = target.stem, target.suffix, 1
        while target.exists():  # two uploads with the same name keep both
            n += 1
            target = folder / f"{stem}-{n}{suffix}"
        target.write_bytes(content)
        saved[target] = name
    return folder, saved


def ingest_files(
    ingestor: Ingestor, paths: Sequence[Path], on_file: Callable[[int, int, Path], None] | None = None
) -> IngestReport:
    """Index `paths` one at a time (so the page can move a progress bar) and merge the reports."""
    total = IngestReport()
    for done, path in enumerate(paths):
        if on_file:
            on_file(done, len(paths), path)
        report = ingestor.run([path], progress=False)
        for name in ("indexed", "unchanged", "skipped", "failed", "pruned"):
            getattr(total, name).extend(getattr(report, name))
        total.chunks_written += report.chunks_written
        total.chunks_deleted += report.chunks_deleted
        total.seconds += report.seconds
    if on_file:
        on_file(len(paths), len(paths), paths[-1] if paths else Path())
    return total


@dataclass
class FileOutcome:
    """One uploaded file's result, for the page's table."""

    file: str
    status: str
    reason: str = ""


def upload_outcomes(report: IngestReport, names: dict[Path, str]) -> list[FileOutcome]:
    """Per uploaded file: indexed / unchanged / skipped / failed with the reason (record number for JSONL/CSV)."""
    by_source = {p.resolve().as_posix(): name for p, name in names.items()}

    def name_of(source: str) -> str:
        return by_source.get(source) or by_source.get(Path(source).resolve().as_posix()) or Path(source).name

    def problem(status: str, failure: Failure) -> FileOutcome:
        where = "" if failure.record is None else f"record {failure.record}: "
        return FileOutcome(name_of(failure.source), status, where + failure.reason)

    rows = [FileOutcome(name_of(s), "indexed") for s in report.indexed]
    rows += [FileOutcome(name_of(s), "unchanged (already indexed)") for s in report.unchanged]
    rows += [problem("skipped", f) for f in report.skipped]
    rows += [problem("failed", f) for f in report.failed]
    return rows


def sample_corpus() -> Path | None:
    """The repository's sample corpus, when the app runs from a checkout that has it."""
    return SAMPLE_CORPUS if SAMPLE_CORPUS.is_dir() else None
