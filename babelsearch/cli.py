"""The `babelsearch` command: each package contributes its own subcommands."""

from __future__ import annotations

import importlib
import logging

import typer

app = typer.Typer(help="babelsearch: multilingual semantic search with an LLM-based embedder.", no_args_is_help=True)


@app.callback()
def _root() -> None:
    """Index folders of documents in any language and search them with queries in any language."""


# module -> its `register(app)` function adds commands; a module not written yet is simply absent.
_COMMAND_MODULES = ["embedder.cli", "indexer.cli", "app.cli"]

for _module in _COMMAND_MODULES:
    try:
        importlib.import_module(_module).register(app)
    except ModuleNotFoundError as exc:
        if not _module.startswith(exc.name or "\0"):
            raise


def main() -> None:
    """Entry point used by `python -m babelsearch`."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()
