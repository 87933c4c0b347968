"""The search page (`babelsearch app` runs it): query form, results, collection sidebar, document upload.

Thin by design: searching and ingestion are indexer's; the helpers in app/state.py and app/highlight.py are
plain functions with their own tests. Document text only ever reaches the page through `highlight`, which
escapes it.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app import state
from app.highlight import escape_markdown, escape_text, highlight, query_terms
from babelsearch.config import Settings
from embedder.instructions import TASKS, UnknownTaskError
from indexer.ingest import Ingestor
from indexer.language import language_name
from indexer.search import EmptyQueryError, SearchResult, collection_stats
from indexer.sources import SUPPORTED_EXTENSIONS, discover_files
from indexer.store import ContractMismatchError, StoreError, StoreLockedError

MAX_K = 50


def lang(code: str | None) -> str:
    """Readable language name, e.g. `de` -> German."""
    return language_name(code) if code and code != "und" else "undetermined"


# -- failures before anything can be shown -------------------------------------------------------------
def open_or_stop(settings: Settings):
    """Open the shared store, embedder and searcher, or explain what is wrong and stop the page."""
    key = state.settings_key(settings)
    try:
        store = state.shared_store(key)
        embedder = state.shared_embedder(settings.model)
        searcher = state.shared_searcher(key)
    except StoreLockedError as error:
        st.error(
            f"**The index is in use by another process.** {settings.describe_store()} can be open in one "
            "process at a time (for example a running `babelsearch index`, or a second copy of this app). "
            "Wait for it to finish or stop it, then reload this page. To share one index between processes, "
            "run a Qdrant server and start the app with `--url`."
        )
        st.caption(escape_text(str(error)), unsafe_allow_html=True)
        st.stop()
    except ContractMismatchError as error:
        st.error(f"**This index was built with another embedder.** {escape_markdown(str(error))}")
        st.stop()
    except StoreError as error:
        st.error(f"**Cannot open the index.** {escape_markdown(str(error))}")
        st.stop()
    except (OSError, ValueError) as error:
        st.error(
            f"**Cannot load the embedder {escape_markdown(settings.model)}.** {escape_markdown(str(error))} "
            "Run `bash scripts/setup.sh` once, or set BABELSEARCH_MODEL."
        )
        st.stop()
    return store, embedder, searcher


# -- ingestion (upload and the sample corpus) ----------------------------------------------------------
def ingest(paths: list[Path], names: dict[Path, str], embedder, store, settings: Settings) -> None:
    """Index `paths` with a progress bar; keep the per-file outcome for the next run of the page."""
    ingestor = Ingestor(
        embedder, store, max_chunk_tokens=settings.max_chunk_tokens, chunk_overlap_tokens=settings.chunk_overlap_tokens
    )
    bar = st.progress(0.0, text="Indexing…")

    def on_file(done: int, total: int, path: Path) -> None:
        label = names.get(path, path.name) if done < total else "done"
        bar.progress(done / total if total else 1.0, text=f"Indexing {min(done + 1, total)}/{total}: {label}")

    try:
        report = state.ingest_files(ingestor, paths, on_file)
    except StoreError as error:  # e.g. the folder got locked by another process meanwhile
        st.error(f"**Indexing stopped.** {escape_markdown(str(error))}")
        return
    st.session_state["last_ingest"] = (report, state.upload_outcomes(report, names))
    st.session_state.pop("last_search", None)  # earlier results may now be incomplete
    st.rerun()


def show_last_ingest() -> None:
    """The outcome of the last upload: a summary line and one row per file that was not indexed."""
    if "last_ingest" not in st.session_state:
        return
    report, outcomes = st.session_state["last_ingest"]
    summary = (
        f"{len(report.indexed)} indexed, {len(report.unchanged)} unchanged, {len(report.skipped)} skipped, "
        f"{len(report.failed)} failed ({report.chunks_written} chunks in {report.seconds:.1f} s)"
    )
    (st.success if report.ok and not report.skipped else st.warning)(summary)
    problems = [o for o in outcomes if o.status in ("failed", "skipped")]
    if problems:
        st.dataframe(
            [{"file": o.file, "status": o.status, "reason": o.reason} for o in problems],
            hide_index=True,
        )


# -- sidebar -------------------------------------------------------------------------------------------
def sidebar(stats: dict, settings: Settings, embedder, store) -> None:
    """Collection stats, the stored embedder contract, and the upload form."""
    with st.sidebar:
        st.header("Collection")
        st.caption(
            escape_text(f"{settings.describe_store()} · collection {settings.collection!r}"), unsafe_allow_html=True
        )
        left, middle, right = st.columns(3)
        left.metric("documents", stats["documents"])
        middle.metric("chunks", stats["points"])
        right.metric("files", stats["sources"])
        if stats["languages"]:
            st.markdown(
                "**Languages:** "
                + " · ".join(f"{escape_text(lang(code))} {n}" for code, n in stats["languages"].items()),
                unsafe_allow_html=True,
            )
        contract = stats["contract"]
        if contract:
            adapter = (contract.get("adapter_sha256") or "")[:12] or "none (untuned)"
            st.markdown(
                f"**Model:** {escape_text(str(contract.get('backbone')))}  \n"
                f"**Adapter:** {escape_text(adapter)} · **dim** {contract.get('dim')} · "
                f"**pooling** {escape_text(str(contract.get('pooling')))} · "
                f"**max tokens** {contract.get('max_tokens')}",
                unsafe_allow_html=True,
            )
            with st.expander("Stored embedder contract"):
                st.json(contract)

        st.header("Add documents")
        with st.form("upload_form", clear_on_submit=True):
            files = st.file_uploader(
                "Files to index",
                accept_multiple_files=True,
                type=sorted(ext.lstrip(".") for ext in SUPPORTED_EXTENSIONS),
                help="Text, Markdown, HTML, PDF, DOCX, JSONL or CSV (one document per record, field `text`).",
            )
            submitted = st.form_submit_button("Index these files")
        if submitted and not files:
            st.warning("Choose one or more files first.")
        elif submitted:
            _, names = state.save_uploads([(f.name, f.getvalue()) for f in files], settings.store)
            ingest(sorted(names), names, embedder, store, settings)
        show_last_ingest()


# -- search --------------------------------------------------------------------------------------------
def search_form(stats: dict, store) -> dict | None:
    """The query form; returns its values when submitted."""
    languages = state.language_options(stats)
    counts = stats["languages"]
    labels = state.source_labels(sorted(store.facet("source")))
    with st.form("search_form"):
        query = st.text_area(
            "Query, in any language",
            placeholder="Wie zeigen Bienen ihren Artgenossen den Weg zu den Blüten?",
            height=90,
        )
        task_col, k_col = st.columns([3, 1])
        task = task_col.selectbox(
            "Task",
            state.task_options(),
            format_func=state.task_label,
            help="The instruction the query is embedded with: " + "; ".join(f"{k}: {v}" for k, v in TASKS.items()),
        )
        k = k_col.number_input("Results", min_value=1, max_value=MAX_K, value=10, step=1)
        custom = st.text_input(
            "Custom instruction (used when the task is “custom instruction…”)",
            placeholder="Given a question about gardening, retrieve passages that answer it",
        )
        lang_col, source_col = st.columns(2)
        chosen_languages = lang_col.multiselect(
            "Only these languages",
            languages,
            format_func=lambda code: f"{lang(code)} ({code}) · {counts[code]}",
            placeholder="all languages",
        )
        chosen_sources = source_col.multiselect(
            "Only these files", list(labels), format_func=labels.get, placeholder="all files"
        )
        submitted = st.form_submit_button("Search", type="primary")
    if not submitted:
        return None
    return {
        "query": query,
        "task": task,
        "custom": custom,
        "k": int(k),
        "languages": chosen_languages,
        "sources": chosen_sources,
        "labels": labels,
    }


def run_search(searcher, form: dict) -> None:
    """Search with the form's values; keep the result (or show why there is none)."""
    st.session_state.pop("last_search", None)
    try:
        task = state.choose_instruction(form["task"], form["custom"])
        with st.spinner("Searching…"):
            result = searcher.search(form["query"], task, form["k"], form["languages"] or None, form["sources"] or None)
            query_language = state.query_language(form["query"], result.query_language)
    except EmptyQueryError:
        st.warning("The query is empty: type a few words or a question, in any language.")
        return
    except (state.QueryInputError, UnknownTaskError) as error:
        st.warning(escape_markdown(str(error)))
        return
    except StoreError as error:
        st.error(f"**The search failed.** {escape_markdown(str(error))}")
        return
    st.session_state["last_search"] = {"form": form, "result": result, "query_language": query_language}


def show_results(form: dict, result: SearchResult, query_language: str | None) -> None:
    """The query's language and timings, then one block per hit with the query terms marked."""
    notice = state.query_notice(form["query"])
    if notice or result.truncated:
        st.info(notice or "Your query was shortened before searching.")
    st.caption(
        f"Query language: **{escape_text(lang(query_language))}** · {len(result.hits)} results · "
        f"encode {result.encode_ms:.0f} ms · search {result.search_ms:.1f} ms",
        unsafe_allow_html=True,
    )
    if not result.hits:
        filtered = form["languages"] or form["sources"]
        st.info(
            "No results. "
            + (
                "No chunk matches the language and file filters together: clear some of them."
                if filtered
                else "The index has no chunks to compare with yet."
            )
        )
        return
    terms = query_terms(form["query"][:5000])
    labels = form["labels"]
    for rank, hit in enumerate(result.hits, 1):
        with st.container(border=True):
            source = labels.get(hit.source) or Path(hit.source).name
            where = f"chunk {hit.chunk + 1}" + (f" of record {hit.record}" if hit.record is not None else "")
            title = f" — {escape_text(hit.title)}" if hit.title else ""
            st.markdown(
                f"**{rank}.** score **{hit.score:.3f}** · {escape_text(lang(hit.language))} · "
                f"<code>{escape_text(source)}</code>{title} · {where} (characters {hit.start}–{hit.end})",
                unsafe_allow_html=True,
            )
            st.markdown(f'<div class="hit-text">{highlight(hit.text, terms)}</div>', unsafe_allow_html=True)


# -- the page ------------------------------------------------------------------------------------------
def empty_index(embedder, store, settings: Settings) -> None:
    """The first-run message, with a one-click way to index the sample corpus."""
    st.info(
        "**The index is empty.** Add documents with *Add documents* in the sidebar, or run "
        "`babelsearch index PATH` before starting the app."
    )
    corpus = state.sample_corpus()
    if corpus and st.button("Index the sample corpus (40 documents in 14 languages)"):
        paths = [p for p in discover_files([corpus]) if isinstance(p, Path)]
        ingest(paths, {p: p.relative_to(corpus).as_posix() for p in paths}, embedder, store, settings)


def main() -> None:
    """Lay out the page."""
    st.set_page_config(page_title="babelsearch", page_icon="🔎", layout="wide")
    st.title("babelsearch")
    st.caption("Multilingual semantic search: ask in any language, find documents in every language.")
    settings = Settings()
    store, embedder, searcher = open_or_stop(settings)
    stats = collection_stats(store)
    sidebar(stats, settings, embedder, store)
    if not stats["points"]:
        empty_index(embedder, store, settings)
        return
    form = search_form(stats, store)
    if form is not None:
        run_search(searcher, form)
    if "last_search" in st.session_state:
        show_results(**st.session_state["last_search"])


main()
