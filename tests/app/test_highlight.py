"""Escaping and highlighting of document text: nothing a document holds can become markup."""

from __future__ import annotations

import html

from app.highlight import MAX_TERMS, escape_markdown, escape_text, highlight, query_terms


def _unescape(rendered: str) -> str:
    """What a browser shows: entities decoded, our own tags dropped."""
    plain = rendered.replace("<mark>", "").replace("</mark>", "").replace("<br>", "\n")
    return html.unescape(plain)


def test_html_and_markdown_syntax_become_entities():
    text = "<script>alert('x')</script> & **bold** _it_ `code` $x^2$ :red[alert] [link](http://a) # h"
    escaped = escape_text(text)
    for raw in ("<", ">", "'", '"', "*", "_", "`", "$", "[", "]", "(", ")", "#", ":"):
        assert raw not in escaped.replace("&#", "")
    assert _unescape(escaped) == text


def test_newlines_become_line_breaks():
    assert escape_text("one\r\ntwo\nthree") == "one<br>two<br>three"


def test_query_terms_drop_stopwords_short_words_and_repeats():
    assert query_terms("Wie füttere ich einen Sauerteig, damit der Sauerteig aktiv bleibt?") == [
        "füttere", "Sauerteig", "damit", "aktiv", "bleibt",
    ]  # fmt: skip
    assert query_terms("the of a") == []


def test_query_terms_keep_short_cjk_words_and_are_capped():
    assert query_terms("活字 印刷") == ["活字", "印刷"]
    assert len(query_terms(" ".join(f"word{i}" for i in range(1000)))) == MAX_TERMS


def test_highlight_marks_case_insensitive_matches_longest_first():
    out = highlight("Der Vulkanausbruch war laut. VULKAN!", ["Vulkan", "vulkanausbruch"])
    assert out.startswith("Der <mark>Vulkanausbruch</mark> war laut&#46; <mark>VULKAN</mark>&#33;")


def test_highlight_never_lets_a_match_carry_markup():
    out = highlight("a <script>alert(1)</script> b", ["script", "alert"])
    assert "<script" not in out and "</script" not in out
    assert "&#60;<mark>script</mark>&#62;<mark>alert</mark>&#40;1&#41;" in out
    assert _unescape(out) == "a <script>alert(1)</script> b"


def test_highlight_without_terms_is_plain_escaping():
    assert highlight("x < y", []) == escape_text("x < y") == "x &#60; y"


def test_highlight_marks_word_starts_only_except_in_cjk():
    assert highlight("Sie bewegen den Weg", ["weg"]) == "Sie bewegen den <mark>Weg</mark>"
    assert highlight("毕昇发明了活字印刷术", ["活字"]) == "毕昇发明了<mark>活字</mark>印刷术"


def test_escape_markdown_backslashes_every_markdown_character():
    assert escape_markdown("a_b *c* $x$ <i> [l](u)") == r"a\_b \*c\* \$x\$ \<i\> \[l\]\(u\)"
