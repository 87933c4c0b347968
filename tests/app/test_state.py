"""The page's plain helpers: task choice, query notes, filter labels, saving and ingesting uploads."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import state
from embedder.instructions import TASKS
from indexer.ingest import Failure, Ingestor, IngestReport
from indexer.search import MAX_QUERY_CHARS
from indexer.store.edge import EdgeStore


def test_task_options_list_each_instruction_once_then_custom():
    options = state.task_options()
    assert options[0] == "web_search" and options[-1] == state.CUSTOM_TASK
    assert "sts" not in options and "similar_text" in options  # same instruction, one entry
    assert len({TASKS[o] for o in options[:-1]}) == len(options) - 1
    assert state.task_label("question_answering") == "question answering"


def test_choose_instruction_passes_presets_and_checks_custom_sentences():
    assert state.choose_instruction("fact_checking", "ignored") == "fact_checking"
    assert state.choose_instruction("custom", "  Retrieve   recipes\n for bread ") == "Retrieve recipes for bread"
    with pytest.raises(state.QueryInputError, match="write it"):
        state.choose_instruction("custom", "  ")
    with pytest.raises(state.QueryInputError, match="sentence"):
        state.choose_instruction("custom", "recipes")


def test_query_notice_only_for_queries_the_searcher_shortens():
    assert state.query_notice("kurz") is None
    assert state.query_notice("x" * MAX_QUERY_CHARS) is None
    assert "100,000 characters" in state.query_notice("x" * 100_000)


def test_language_options_most_chunks_first_undetermined_last():
    stats = {"languages": {"und": 9, "en": 3, "de": 5, "fr": 3}}
    assert state.language_options(stats) == ["de", "en", "fr", "und"]
    assert state.language_options({"languages": {}}) == []


def test_source_labels_are_relative_to_the_shared_folder():
    labels = state.source_labels(["/data/corpus/bees/fr.md", "/data/corpus/chess/de.md"])
    assert labels == {"/data/corpus/bees/fr.md": "bees/fr.md", "/data/corpus/chess/de.md": "chess/de.md"}
    assert state.source_labels(["/only/one.txt"]) == {"/only/one.txt": "one.txt"}
    assert state.source_labels([]) == {}


@pytest.mark.parametrize(
    ("name", "safe"),
    [("notes.txt", "notes.txt"), ("../../etc/passwd", "passwd"), ("C:\\x\\a b.md", "a b.md"),
     (".hidden.md", "hidden.md"), ("<img src=x>.html", "_img src_x_.html"), ("..", "upload")],
)  # fmt: skip
def test_safe_filename_keeps_uploads_inside_their_folder(name, safe):
    assert state.safe_filename(name) == safe


def test_save_uploads_writes_each_file_once_into_a_new_folder(tmp_path):
    folder, saved = state.save_uploads([("a.txt", b"one"), ("a.txt", b"two"), ("../b.md", b"# b")], tmp_path)
    assert folder.parent == tmp_path / state.UPLOADS_DIR
    assert sorted(p.name for p in folder.iterdir()) == ["a-2.txt", "a.txt", "b.md"]
    assert {p.read_bytes(): name for p, name in saved.items()} == {b"one": "a.txt", b"two": "a.txt", b"# b": "../b.md"}
    other, _ = state.save_uploads([("a.txt", b"three")], tmp_path)
    assert other != folder


def test_ingest_files_reports_progress_per_file_and_merges_reports(tiny_embedder, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Bienen sammeln Nektar.\n")
    (docs / "b.csv").write_text("text\nLas abejas hacen miel.\n")
    (docs / "c.xyz").write_text("not indexed")
    store = EdgeStore(tmp_path / "index")
    calls: list[tuple[int, int]] = []
    try:
        paths = sorted(docs.iterdir())
        report = state.ingest_files(Ingestor(tiny_embedder, store), paths, lambda d, t, p: calls.append((d, t)))
    finally:
        store.close()
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert len(report.indexed) >= 1 and [Path(f.source).name for f in report.skipped] == ["c.xyz"]
    assert report.chunks_written >= 2


def test_upload_outcomes_name_the_uploaded_file_and_the_record(tmp_path):
    saved = tmp_path / "broken.jsonl"
    report = IngestReport(
        indexed=[saved.as_posix()],
        failed=[Failure(saved.as_posix(), "not JSON", record=2)],
        skipped=[Failure((tmp_path / "x.bin").as_posix(), "unsupported extension .bin")],
    )
    rows = state.upload_outcomes(report, {saved: "my broken.jsonl"})
    assert [(r.file, r.status, r.reason) for r in rows] == [
        ("my broken.jsonl", "indexed", ""),
        ("x.bin", "skipped", "unsupported extension .bin"),
        ("my broken.jsonl", "failed", "record 2: not JSON"),
    ]
