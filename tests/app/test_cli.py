"""`babelsearch app`: the streamlit command line and the settings it hands to the page."""

from __future__ import annotations

import sys
from pathlib import Path

from typer.testing import CliRunner

from app.cli import PAGE, streamlit_command
from babelsearch.cli import app


def test_streamlit_command_serves_the_page_headless_on_host_and_port(tmp_path, monkeypatch):
    monkeypatch.delenv("BABELSEARCH_URL", raising=False)
    argv, env = streamlit_command("0.0.0.0", 8600, {"store": tmp_path / "idx", "model": "tiny", "url": None})
    assert argv[:5] == [sys.executable, "-m", "streamlit", "run", str(PAGE)]
    options = dict(zip(argv[5::2], argv[6::2], strict=True))
    assert options["--server.address"] == "0.0.0.0" and options["--server.port"] == "8600"
    assert options["--server.headless"] == "true"
    assert env["BABELSEARCH_STORE"] == str((tmp_path / "idx").resolve()) and env["BABELSEARCH_MODEL"] == "tiny"
    assert "BABELSEARCH_URL" not in env  # None means "not given": the page falls back to its defaults


def test_page_file_exists_and_the_command_is_registered():
    assert Path(PAGE).is_file()
    result = CliRunner().invoke(app, ["app", "--help"])
    assert result.exit_code == 0 and "--port" in result.output and "--host" in result.output
