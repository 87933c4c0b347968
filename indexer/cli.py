"""Indexer subcommands: `index`, `search`, `stats` (flags override `BABELSEARCH_*` env vars)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

STORE_HELP = "Embedded store folder (qdrant-edge). Default: $BABELSEARCH_STORE or .babelsearch/index."
URL_HELP = "Qdrant server URL (server mode), e.g. http://localhost:6333. Default: $BABELSEARCH_URL."

console = Console()
err_console = Console(stderr=True)


def _settings(store: Path | None, url: str | None, collection: str | None, model: str | None):
    # imported here so that `babelsearch train` runs where pydantic-settings is not installed (GPU hosts)
    from babelsearch.config import load_settings

    return load_settings(store=store, url=url, collection=collection, model=model)


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(2)


@contextmanager
def _opened_store(settings, *user_errors: type[Exception]) -> Iterator:
    """Open the settings' store, always close it, and turn store (and `user_errors`) failures into exit code 2."""
    from indexer.store import StoreError, open_store

    try:
        store = open_store(settings)
    except StoreError as error:
        raise _fail(str(error)) from error
    try:
        yield store
    except (StoreError, *user_errors) as error:
        raise _fail(str(error)) from error
    finally:
        store.close()


def index(
    paths: list[Path] = typer.Argument(..., help="Files and folders to index (folders recursively)."),
    store: Path | None = typer.Option(None, help=STORE_HELP),
    url: str | None = typer.Option(None, help=URL_HELP),
    collection: str | None = typer.Option(None, help="Collection name. Default: babelsearch."),
    model: str | None = typer.Option(None, help="'default', a backbone name, or an embedder folder."),
    include: list[str] = typer.Option([], help="Glob of files to take (repeatable), e.g. '**/*.md'."),
    exclude: list[str] = typer.Option([], help="Glob of files to leave out (repeatable)."),
    text_field: str = typer.Option("text", help="JSONL/CSV field holding the text; other fields become metadata."),
    max_tokens: int | None = typer.Option(None, help="Chunk size in embedder tokens (default 256)."),
    overlap: int | None = typer.Option(None, help="Tokens shared by consecutive chunks (default 32)."),
    prune: bool = typer.Option(False, help="Delete chunks of files under PATHS that no longer exist."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """Index documents: idempotent, incremental and resumable; exit code 1 when any input failed."""
    from embedder import load_embedder
    from indexer.ingest import Ingestor

    settings = _settings(store, url, collection, model)
    with _opened_store(settings, ValueError) as target:
        ingestor = Ingestor(
            load_embedder(settings.model),
            target,
            max_chunk_tokens=max_tokens or settings.max_chunk_tokens,
            chunk_overlap_tokens=overlap if overlap is not None else settings.chunk_overlap_tokens,
            text_field=text_field,
        )
        report = ingestor.run(paths, include, exclude, prune=prune, progress=not quiet)
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        _print_report(report, settings)
    raise typer.Exit(0 if report.ok else 1)


def _print_report(report, settings) -> None:
    console.print(
        f"[bold]{len(report.indexed)}[/bold] indexed, {len(report.unchanged)} unchanged, "
        f"{len(report.skipped)} skipped, [bold]{len(report.failed)}[/bold] failed, {len(report.pruned)} pruned; "
        f"{report.chunks_written} chunks written, {report.chunks_deleted} deleted in {report.seconds:.1f} s "
        f"({settings.describe_store()}, collection {settings.collection!r})"
    )
    for title, rows in (("skipped", report.skipped), ("failed", report.failed)):
        if rows:
            table = Table(title=title, show_lines=False)
            table.add_column("input", overflow="fold")
            table.add_column("reason", overflow="fold")
            for row in rows:
                where = row.source if row.record is None else f"{row.source}:{row.record}"
                table.add_row(where, row.reason)
            console.print(table)


def search(
    query: str = typer.Argument(..., help="What to look for, in any language."),
    k: int = typer.Option(5, "-k", help="Number of results."),
    task: str = typer.Option("web_search", help="Task short name (see `babelsearch encode --help`) or instruction."),
    language: list[str] = typer.Option([], help="Only chunks in this language code (repeatable), e.g. de."),
    source: list[str] = typer.Option([], help="Only chunks of this source file (repeatable, absolute path)."),
    store: Path | None = typer.Option(None, help=STORE_HELP),
    url: str | None = typer.Option(None, help=URL_HELP),
    collection: str | None = typer.Option(None, help="Collection name."),
    model: str | None = typer.Option(None, help="The embedder the collection was built with."),
    as_json: bool = typer.Option(False, "--json", help="Print hits as JSON."),
) -> None:
    """Search an index with a query in any language."""
    from embedder import load_embedder
    from indexer.search import Searcher

    settings = _settings(store, url, collection, model)
    with _opened_store(settings, ValueError) as target:  # EmptyQueryError is a ValueError
        result = Searcher(load_embedder(settings.model), target).search(query, task, k, language, source)
    if as_json:
        print(json.dumps([vars(h) for h in result.hits], ensure_ascii=False, indent=2))
        return
    if not result.hits:
        console.print("No results: the index is empty or the filters exclude everything.")
    for rank, hit in enumerate(result.hits, 1):
        console.print(f"[bold]{rank}. {hit.score:.3f}[/bold] [{hit.language}] {hit.source} (chunk {hit.chunk})")
        console.print(f"   {hit.text[:300]!s}", markup=False, highlight=False)


def stats(
    store: Path | None = typer.Option(None, help=STORE_HELP),
    url: str | None = typer.Option(None, help=URL_HELP),
    collection: str | None = typer.Option(None, help="Collection name."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object: points, sources, languages, contract."),
) -> None:
    """Show a collection's points, sources, languages and stored embedder contract."""
    from indexer.search import collection_stats

    with _opened_store(_settings(store, url, collection, None)) as target:
        summary = collection_stats(target)
    if as_json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    console.print(
        f"collection {summary['collection']!r}: {summary['points']} chunks, {summary['documents']} documents, "
        f"{summary['sources']} source files"
    )
    console.print("languages: " + ", ".join(f"{k} {v}" for k, v in summary["languages"].items()))
    console.print_json(data=summary["contract"])


def export(
    out: Path = typer.Argument(..., help="Export file to write (gzipped JSON lines), e.g. index.jsonl.gz."),
    store: Path | None = typer.Option(None, help=STORE_HELP),
    url: str | None = typer.Option(None, help=URL_HELP),
    collection: str | None = typer.Option(None, help="Collection name."),
) -> None:
    """Export a collection (ids, vectors, payloads, embedder contract) to a portable file."""
    from indexer.migrate import export_collection

    settings = _settings(store, url, collection, None)
    with _opened_store(settings) as source:
        count = export_collection(source, out)
    console.print(f"exported {count} points from {settings.describe_store()} to {out}")


def import_(
    file: Path = typer.Argument(..., help="A file written by `babelsearch export`."),
    store: Path | None = typer.Option(None, help=STORE_HELP),
    url: str | None = typer.Option(None, help=URL_HELP),
    collection: str | None = typer.Option(None, help="Collection name."),
) -> None:
    """Import an export file into a store (idempotent: re-run after a crash to finish)."""
    from indexer.migrate import import_collection

    settings = _settings(store, url, collection, None)
    with _opened_store(settings) as target:
        report = import_collection(file, target)
    console.print(
        f"imported {report.written} points into {settings.describe_store()} "
        f"({report.already_present} were already there)"
    )


def register(app: typer.Typer) -> None:
    """Add the indexer's commands to the `babelsearch` CLI."""
    app.command()(index)
    app.command()(search)
    app.command()(stats)
    app.command()(export)
    app.command(name="import")(import_)
