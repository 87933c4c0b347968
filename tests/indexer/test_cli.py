"""The `babelsearch index / search / stats / export / import` commands, end to end with the tiny model."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from babelsearch.cli import app

runner = CliRunner()


@pytest.fixture
def corpus(tmp_path):
    """Two good files and one empty one."""
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.md").write_text("# Bread\n\nSourdough bread needs flour, water, salt and a lot of patience.\n")
    (root / "b.txt").write_text("Der Vulkan bricht aus, wenn Magma an die Oberfläche steigt.\n")
    return root


def _invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_index_then_stats_then_search_as_json(corpus, tmp_path):
    store = str(tmp_path / "index")
    first = _invoke("index", str(corpus), "--store", store, "--model", "tiny", "--json", "--quiet")
    assert first.exit_code == 0, first.output
    assert len(json.loads(first.stdout)["indexed"]) == 2

    again = json.loads(_invoke("index", str(corpus), "--store", store, "--model", "tiny", "--json", "--quiet").stdout)
    assert again["chunks_written"] == 0 and len(again["unchanged"]) == 2

    stats = json.loads(_invoke("stats", "--store", store, "--json").stdout)
    assert stats["sources"] == 2 and stats["points"] >= 2
    assert set(stats["languages"]) <= {"en", "de", "und"} and stats["contract"]["backbone"] == "tiny"

    hits = json.loads(_invoke("search", "Brot backen", "--store", store, "--model", "tiny", "--json", "-k", "2").stdout)
    assert len(hits) == 2 and {"score", "text", "source", "language", "chunk"} <= set(hits[0])


def test_a_failed_input_is_listed_and_gives_exit_code_1(corpus, tmp_path):
    (corpus / "empty.txt").write_text("")
    result = _invoke("index", str(corpus), "--store", str(tmp_path / "i"), "--model", "tiny", "--quiet")
    assert result.exit_code == 1
    assert "empty.txt" in result.stdout and "2 indexed" in result.stdout and "empty file" in result.stdout


def test_searching_with_another_model_is_refused_clearly(corpus, tmp_path):
    store = str(tmp_path / "index")
    _invoke("index", str(corpus), "--store", store, "--model", "tiny", "--quiet")
    result = runner.invoke(app, ["search", "bread", "--store", store, "--model", "smollm2-135m"])
    if "not installed" in result.output:
        pytest.skip("smollm2 backbone not installed")
    assert result.exit_code == 2 and "different embedder" in result.stderr


def test_export_then_import_into_server_mode(corpus, tmp_path):
    store, dump, server = str(tmp_path / "index"), str(tmp_path / "dump.jsonl.gz"), str(tmp_path / "server")
    _invoke("index", str(corpus), "--store", store, "--model", "tiny", "--quiet")
    assert _invoke("export", dump, "--store", store).exit_code == 0
    assert "imported" in _invoke("import", dump, "--url", server).stdout
    source_stats = json.loads(_invoke("stats", "--store", store, "--json").stdout)
    target_stats = json.loads(_invoke("stats", "--url", server, "--json").stdout)
    assert source_stats | {"collection": None} == target_stats | {"collection": None}
