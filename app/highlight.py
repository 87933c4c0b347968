"""Safe rendering of document text: escape everything, then mark the query's terms.

Document text is untrusted (a page may contain `<script>`), and Streamlit's markdown would also read `*`,
`_`, `$` or `:red[...]` in it as formatting. So every character that HTML or markdown could interpret is
written as an entity first; only our own `<mark>` and `<br>` tags are real markup.
"""

from __future__ import annotations

import re

MIN_TERM_CHARS = 3  # shorter Latin-script words ("of", "la", "im") would light up half of every text
MAX_TERMS = 32  # a pasted page as query must not build a regex of thousands of alternatives

# Frequent function words of the corpus languages; highlighting them says nothing about relevance.
_STOPWORDS_TEXT = """
    the and for are was were with that this what which who how why when where does from into about have has
    der die das und ist sind ein eine einen einem einer wie was wer wo warum wann mit von für auf aus bei den dem
    des sich nicht auch oder ich man
    les des une est sont pour avec dans que qui quoi comment pourquoi par sur aux
    los las una uno con por para que como qué cómo por qué del son está
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())

# Characters markdown (or Streamlit's extensions: $math$, :emoji:, :red[...]) could treat as syntax.
_MARKDOWN_CHARS = "\\`*_{}[]()#+-.!|~$:>"
# One table, one pass: escaping HTML first and markdown second would mangle the `&#...;` of the first pass.
_ENTITIES = {ord(c): f"&#{ord(c)};" for c in "&<>\"'" + _MARKDOWN_CHARS}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$:<>&])")
_WORD = re.compile(r"\w+", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def escape_text(text: str) -> str:
    """Escape `text` so that neither HTML nor markdown interprets any of it; newlines become `<br>`."""
    return text.translate(_ENTITIES).replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")


def escape_markdown(text: str) -> str:
    """Backslash-escape `text` for places that take markdown but no HTML (st.error, st.warning)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def query_terms(query: str) -> list[str]:
    """The words of `query` worth highlighting: no stopwords, no very short Latin words, at most MAX_TERMS."""
    terms: list[str] = []
    seen: set[str] = set()
    for word in _WORD.findall(query):
        key = word.casefold()
        short = len(word) < MIN_TERM_CHARS and not _CJK.search(word)
        if short or key in STOPWORDS or key in seen:
            continue
        seen.add(key)
        terms.append(word)
        if len(terms) == MAX_TERMS:
            break
    return terms


def _terms_pattern(terms: list[str]) -> re.Pattern[str]:
    """Terms at the start of a word ("Vulkan" marks "Vulkanausbruch", "weg" leaves "bewegen" alone), longest
    first; CJK terms anywhere, since those scripts do not separate words."""
    parts = [
        re.escape(t) if _CJK.search(t) else rf"(?<!\w){re.escape(t)}" for t in sorted(terms, key=len, reverse=True)
    ]
    return re.compile("|".join(parts), re.IGNORECASE)


def highlight(text: str, terms: list[str]) -> str:
    """Escaped `text` (see escape_text) with each case-insensitive occurrence of a term wrapped in `<mark>`."""
    if not terms:
        return escape_text(text)
    pattern = _terms_pattern(terms)
    out: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        out.append(escape_text(text[last : match.start()]))
        out.append(f"<mark>{escape_text(match.group())}</mark>")
        last = match.end()
    out.append(escape_text(text[last:]))
    return "".join(out)
