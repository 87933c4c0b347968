"""Task instructions (E5-mistral's per-task table) and the query/document text templates."""

from __future__ import annotations

QUERY_TEMPLATE = "Instruct: {task}\nQuery: {text}"
DEFAULT_DOCUMENT_INSTRUCTION = "Represent the document for retrieval: "
DEFAULT_TASK = "web_search"

# Short name -> instruction, after E5-mistral's evaluation table (Wang et al., 2023, Table 13)
# and INSTRUCTOR's task wording. Datasets and the app pick instructions by these names.
TASKS: dict[str, str] = {
    "web_search": "Given a web search query, retrieve relevant passages that answer the query",
    "question_answering": "Given a question, retrieve passages that answer the question",
    "multilingual_qa": "Given a question, retrieve passages in any language that answer the question",
    "fact_checking": "Given a claim, retrieve documents that support or refute the claim",
    "scientific_claims": "Given a scientific claim, retrieve documents that support or refute the claim",
    "similar_text": "Retrieve semantically similar text",
    "sts": "Retrieve semantically similar text",
    "bitext": "Retrieve parallel sentences",
    "duplicate_question": "Retrieve questions that are semantically equivalent to the given question",
    "paraphrase": "Retrieve text that is a paraphrase of the given text",
    "nli": "Given a premise, retrieve a hypothesis that is entailed by the premise",
    "summary": "Given a news summary, retrieve other semantically similar summaries",
    "biomedical_sts": "Retrieve semantically similar biomedical sentences",
}


class UnknownTaskError(ValueError):
    """Raised when a task short name is not in the instruction table."""


def resolve_task(task: str | None) -> str:
    """Return the instruction text for a short task name, or `task` itself if it is free text.

    A string with a space is taken as a custom instruction; a single word must name a table entry.
    """
    if task is None:
        return TASKS[DEFAULT_TASK]
    if task in TASKS:
        return TASKS[task]
    if " " in task.strip():
        return task.strip()
    known = ", ".join(sorted(TASKS))
    raise UnknownTaskError(f"unknown task {task!r}: use one of {known}, or pass a full instruction sentence")


def query_prefix(task: str | None) -> str:
    """The text placed before a query: `Instruct: {task}\\nQuery: `."""
    return QUERY_TEMPLATE.format(task=resolve_task(task), text="")
