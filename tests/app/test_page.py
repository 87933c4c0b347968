"""The search page driven by Streamlit's AppTest (no browser): tiny random backbone, tmp qdrant-edge store.

The tiny backbone is untrained, so these tests check what the page shows, not how good the ranking is
(tests/app/test_browser.py does that with the real model).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from indexer.ingest import Ingestor
from indexer.store.edge import EdgeStore

PAGE = Path(__file__).resolve().parents[2] / "app" / "page.py"
TIMEOUT_S = 120  # the first run loads the tiny backbone; two shared CPU cores make it slow


def _write_docs(root: Path) -> Path:
    # Each text is longer than ~140 letters: shorter Latin text is "too short to tell" for the indexer.
    root.mkdir(parents=True)
    (root / "bees.md").write_text(
        "# Bees\n\nHoney bees pollinate flowers and make honey in their hives. A colony has one queen, thousands "
        "of workers and a few hundred drones; the workers tell each other where flowers are by dancing.\n"
    )
    (root / "vulkan.txt").write_text(
        "Vulkane\n\nEin Vulkan bricht aus, wenn Magma aus der Erdkruste an die Oberfläche steigt. "
        "Die Lava fließt dann den Berg hinunter und kühlt langsam ab, und aus der Asche wird fruchtbarer Boden.\n"
    )
    (root / "xss.txt").write_text(
        "Security note\n\nThe string <script>alert(1)</script> in a page must appear as text and never run. "
        "A search page that shows documents must escape them before it adds any markup of its own.\n"
    )
    return root


def _index(tiny_embedder, docs: Path, store_dir: Path) -> Path:
    store = EdgeStore(store_dir)
    report = Ingestor(tiny_embedder, store, max_chunk_tokens=400, chunk_overlap_tokens=16).run([docs], progress=False)
    store.close()
    assert report.ok, report.failed
    return store_dir


@pytest.fixture(scope="module")
def indexed_store(tiny_embedder, tmp_path_factory) -> Path:
    """A store holding three small documents (English, German, one with a <script> tag)."""
    root = tmp_path_factory.mktemp("page")
    return _index(tiny_embedder, _write_docs(root / "docs"), root / "index")


def _page(monkeypatch, store_dir: Path) -> AppTest:
    monkeypatch.setenv("BABELSEARCH_MODEL", "tiny")
    monkeypatch.setenv("BABELSEARCH_STORE", str(store_dir))
    monkeypatch.delenv("BABELSEARCH_URL", raising=False)
    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT_S)
    at.run()
    assert not at.exception, at.exception
    return at


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def _search(at: AppTest, query: str, k: int = 10, languages: list[str] = (), sources: list[str] = ()) -> AppTest:
    at.text_area[0].input(query)
    at.number_input[0].set_value(k)
    if languages:
        at.multiselect[0].set_value(list(languages))
    if sources:
        at.multiselect[1].set_value(list(sources))
    _button(at, "Search").click()
    at.run()
    assert not at.exception, at.exception
    return at


def _hit_texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith('<div class="hit-text">')]


def _hit_headers(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("**") and " score **" in m.value]


def test_search_shows_ranked_hits_with_language_source_and_timing(monkeypatch, indexed_store):
    at = _search(_page(monkeypatch, indexed_store), "honey bees and their hives", k=3)
    headers = _hit_headers(at)
    assert len(headers) == 3 == len(_hit_texts(at))
    assert [h.split(".**")[0] for h in headers] == ["**1", "**2", "**3"]
    assert all("chunk " in h and "<code>" in h for h in headers)
    status = " ".join(c.value for c in at.caption)
    assert "Query language: **English**" in status and "encode" in status and "search" in status
    bees = [t for t in _hit_texts(at) if "pollinate" in t]
    assert not bees or "<mark>bees</mark>" in bees[0] or "<mark>honey</mark>" in bees[0].lower()


def test_empty_query_gets_a_message_not_a_traceback(monkeypatch, indexed_store):
    at = _search(_page(monkeypatch, indexed_store), "   ")
    assert any("query is empty" in w.value for w in at.warning)
    assert not _hit_texts(at)


def test_a_100000_character_query_is_shortened_with_a_note(monkeypatch, indexed_store):
    at = _search(_page(monkeypatch, indexed_store), "Vulkan Magma Lava " * 5556, k=2)
    assert any("100,0" in i.value and "characters long" in i.value for i in at.info)
    assert len(_hit_texts(at)) == 2


def test_empty_index_says_so_and_offers_no_search_form(monkeypatch, tmp_path):
    at = _page(monkeypatch, tmp_path / "empty")
    assert any("index is empty" in i.value for i in at.info)
    assert not at.text_area
    assert _button(at, "Index these files")  # the upload is there to fill it
    assert _button(at, "Index the sample corpus (40 documents in 14 languages)")


def test_script_tag_in_a_document_is_shown_as_text(monkeypatch, indexed_store):
    at = _search(_page(monkeypatch, indexed_store), "script alert", k=10)
    texts = _hit_texts(at)
    shown = [t for t in texts if "alert" in t]
    assert shown, texts
    assert "&#60;<mark>script</mark>&#62;" in shown[0]
    assert not any("<script" in m.value.lower() for m in at.markdown)


def test_language_filter_offers_the_indexed_languages_by_name(monkeypatch, indexed_store):
    at = _page(monkeypatch, indexed_store)
    languages = at.multiselect[0]
    assert any(o.startswith("English (en)") for o in languages.options)
    assert any(o.startswith("German (de)") for o in languages.options)
    assert sorted(Path(o).name for o in at.multiselect[1].options) == ["bees.md", "vulkan.txt", "xss.txt"]


def test_language_filter_keeps_only_that_language(monkeypatch, indexed_store):
    at = _search(_page(monkeypatch, indexed_store), "honey", languages=["de"])
    headers = _hit_headers(at)
    assert headers and all("German" in h for h in headers)


def test_filters_that_exclude_everything_say_no_results(monkeypatch, indexed_store):
    bees = (indexed_store.parent / "docs" / "bees.md").resolve().as_posix()
    at = _search(_page(monkeypatch, indexed_store), "honey", languages=["de"], sources=[bees])
    assert any("No results" in i.value for i in at.info)


def test_a_one_word_custom_instruction_is_explained(monkeypatch, indexed_store):
    at = _page(monkeypatch, indexed_store)
    at.selectbox[0].set_value("custom")
    at.text_input[0].input("recipes")
    at = _search(at, "bread")
    assert any("custom instruction is a sentence" in w.value for w in at.warning)


def test_sidebar_shows_counts_languages_and_the_stored_contract(monkeypatch, indexed_store):
    at = _page(monkeypatch, indexed_store)
    metrics = {m.label: m.value for m in at.sidebar.metric}
    assert metrics["files"] == "3" and int(metrics["chunks"]) >= 3
    sidebar_text = " ".join(m.value for m in at.sidebar.markdown)
    assert "**Model:** tiny" in sidebar_text and "**dim** 32" in sidebar_text and "English" in sidebar_text
    assert at.sidebar.json and '"backbone"' in at.sidebar.json[0].value


def test_upload_indexes_files_and_lists_failures_per_file(monkeypatch, tmp_path):
    store_dir = tmp_path / "index"
    at = _page(monkeypatch, store_dir)
    uploader = at.file_uploader[0]
    uploader.set_value(
        [
            ("notes.txt", "Kaffee wächst in den Bergen Kolumbiens.\n".encode(), "text/plain"),
            ("broken.jsonl", b'{"text": "El cafe de altura"}\nnot json at all\n', "application/jsonl"),
        ]
    )
    _button(at, "Index these files").click()
    at.run()
    assert not at.exception, at.exception
    summary = " ".join(w.value for w in [*at.sidebar.success, *at.sidebar.warning])
    assert "indexed" in summary and "1 failed" in summary
    rows = at.sidebar.dataframe[0].value
    assert list(rows["file"]) == ["broken.jsonl"] and "record 2" in rows["reason"][0]
    saved = list((store_dir / "uploads").glob("*/*"))
    assert sorted(p.name for p in saved) == ["broken.jsonl", "notes.txt"]
    assert at.text_area, "the search form appears once the index has chunks"


def test_an_index_built_with_another_embedder_gets_a_message(monkeypatch, tiny_embedder, tmp_path):
    store_dir = _index(tiny_embedder, _write_docs(tmp_path / "docs"), tmp_path / "index")
    contract_file = store_dir / "babelsearch" / "contract.json"
    contract = json.loads(contract_file.read_text())
    contract_file.write_text(json.dumps({**contract, "backbone": "gemma-3-270m", "dim": 640}))
    at = _page(monkeypatch, store_dir)
    assert any("built with another embedder" in e.value and "gemma\\-3\\-270m" in e.value for e in at.error)
    assert not at.text_area


def test_a_store_locked_by_another_process_gets_a_message(monkeypatch, tiny_embedder, tmp_path):
    store_dir = _index(tiny_embedder, _write_docs(tmp_path / "docs"), tmp_path / "index")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from indexer.store.edge import EdgeStore; "
         f"s = EdgeStore({str(store_dir)!r}); print('open', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "open"
        at = _page(monkeypatch, store_dir)
        assert any("in use by another process" in e.value for e in at.error)
        assert not at.text_area
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_server_mode_store_serves_the_same_page(monkeypatch, tiny_embedder, tmp_path):
    """BABELSEARCH_URL switches the page to the server store (here qdrant-client local mode on a folder)."""
    from indexer.store.server import ServerStore

    server_dir = tmp_path / "qdrant-local"
    store = ServerStore(location=str(server_dir))
    report = Ingestor(tiny_embedder, store, max_chunk_tokens=400, chunk_overlap_tokens=16).run(
        [_write_docs(tmp_path / "docs")], progress=False
    )
    store.close()
    assert report.ok, report.failed
    monkeypatch.setenv("BABELSEARCH_MODEL", "tiny")
    monkeypatch.setenv("BABELSEARCH_URL", str(server_dir))
    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT_S)
    at.run()
    assert not at.exception, at.exception
    _search(at, "bees and honey", k=3)
    assert len(_hit_headers(at)) == 3
    assert any("pollinate" in t for t in _hit_texts(at))
