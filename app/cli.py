"""`babelsearch app`: serve the search page with Streamlit (settings travel to it as BABELSEARCH_* env vars)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

PAGE = Path(__file__).resolve().parent / "page.py"


def streamlit_command(
    host: str, port: int, overrides: dict[str, object], open_browser: bool = False
) -> tuple[list[str], dict[str, str]]:
    """The `streamlit run` argv and the environment that carries the settings to the page."""
    env = dict(os.environ)
    for name, value in overrides.items():
        if value is not None:
            env[f"BABELSEARCH_{name.upper()}"] = str(Path(value).resolve()) if name == "store" else str(value)
    argv = [
        sys.executable, "-m", "streamlit", "run", str(PAGE),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "false" if open_browser else "true",
        "--server.fileWatcherType", "none",  # a served page does not reload on edits; saves a watcher thread
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",  # no "Deploy" button or developer menu on a served page
    ]  # fmt: skip
    return argv, env


def app_command(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 to serve other machines)."),
    port: int = typer.Option(8501, help="Port to listen on."),
    store: Path | None = typer.Option(
        None, help="Embedded store folder. Default: $BABELSEARCH_STORE or .babelsearch/index."
    ),
    url: str | None = typer.Option(
        None, help="Qdrant server URL instead of the embedded store. Default: $BABELSEARCH_URL."
    ),
    collection: str | None = typer.Option(None, help="Collection name. Default: babelsearch."),
    model: str | None = typer.Option(None, help="The embedder the collection was built with. Default: 'default'."),
    open_browser: bool = typer.Option(False, "--open-browser", help="Open the page in this machine's browser."),
) -> None:
    """Serve the search page: type a query in any language, filter by language and file, upload documents.

    The page opens the model and the store once per server process. An embedded store folder can be open in
    one process only, so stop `babelsearch index` on the same folder first (or upload from the page).
    """
    overrides = {"store": store, "url": url, "collection": collection, "model": model}
    argv, env = streamlit_command(host, port, overrides, open_browser)
    typer.echo(f"babelsearch: serving http://{host}:{port} (Ctrl+C stops it)", err=True)
    sys.stdout.flush()
    # exec, not a child process: Ctrl+C and a supervisor's SIGTERM reach Streamlit directly.
    os.execve(sys.executable, argv, env)


def register(app: typer.Typer) -> None:
    """Add `babelsearch app` to the command line."""
    app.command("app")(app_command)
