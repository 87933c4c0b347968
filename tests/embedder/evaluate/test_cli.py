"""`babelsearch eval` end to end on the tiny random backbone."""

import json

from typer.testing import CliRunner

from babelsearch.cli import app


def test_eval_tiny_sts(data_root, tmp_path):
    out = tmp_path / "r.json"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "--model",
            "tiny",
            "--suite",
            "sts",
            "--data",
            str(data_root),
            "--limit",
            "20",
            "--json",
            str(out),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "stsb-en" in result.output and "Instruct: Retrieve semantically similar text" in result.output
    payload = json.loads(out.read_text())
    rows = [r for r in payload["results"] if not r["summary"]]
    assert len(rows) == 25 and all(r["size"]["pairs"] == 20 for r in rows)
    assert all(-100 <= r["main"] <= 100 for r in rows)
    assert payload["limit"] == 20 and payload["machine"]["versions"]["ranx"]


def test_eval_json_to_stdout_is_pure_json(data_root):
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "--model",
            "tiny",
            "--suite",
            "retrieval",
            "--data",
            str(data_root),
            "--limit",
            "3",
            "--datasets",
            "xquad-de*",
            "--json",
            "-",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [r["dataset"] for r in payload["results"]] == ["xquad-de", "xquad-de>en", "retrieval mean (2 sets)"]
    assert set(payload["results"][0]["metrics"]) == {"ndcg@10", "recall@1", "recall@10", "recall@100", "mrr@10"}


def test_unknown_suite_is_refused(data_root):
    result = CliRunner().invoke(app, ["eval", "--model", "tiny", "--suite", "nope", "--data", str(data_root)])
    assert result.exit_code != 0
