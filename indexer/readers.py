"""Format readers: raw bytes of one file -> text (or records) for indexer.sources.

Every reader raises `FormatError(reason)` when the whole file cannot be used; `indexer.sources` adds the
file name. Record readers (JSONL, CSV) yield `(line, fields)` or `(line, reason)` so that one bad record
never costs the file's other records.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import charset_normalizer


class FormatError(ValueError):
    """The whole file cannot be read; the message is the reason and, where there is one, the fix."""


@dataclass
class Extracted:
    """What a whole-file reader found: the text, a title when the format has one, and format facts."""

    text: str
    title: str | None = None
    metadata: dict = field(default_factory=dict)


# ---------------------------------------------------------------- text decoding

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def decode_text(data: bytes) -> tuple[str, dict]:
    """Decode a text file's bytes; return the text (newlines normalised to \\n) and encoding facts.

    Policy: a BOM wins; valid UTF-8 is UTF-8. A file that is mostly valid UTF-8 with a few bad bytes
    (at least as many valid multi-byte characters as invalid bytes) is decoded as UTF-8 with the bad bytes
    replaced by U+FFFD and `metadata["decode_errors"]` counting them: guessing a legacy code page for such
    a file would turn every correct accented/CJK character into mojibake. Anything else goes to
    charset-normalizer (cp1252, Shift-JIS, GBK, ...). NUL bytes without a UTF-16/32 BOM mean binary.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _newlines(data[len(bom) :].decode(encoding)), {"encoding": encoding}
            except UnicodeDecodeError as e:
                raise FormatError(f"starts with a {encoding} byte-order mark but is not {encoding}: {e.reason}") from e
    if b"\x00" in data:
        raise FormatError("binary content (NUL bytes) in a text file; is the extension wrong? convert or remove it")
    try:
        return _newlines(data.decode("utf-8")), {"encoding": "utf-8"}
    except UnicodeDecodeError:
        pass
    replaced = data.decode("utf-8", errors="replace")
    bad = replaced.count("\ufffd")
    multibyte = sum(1 for ch in replaced if ord(ch) > 0x7F) - bad
    if multibyte >= bad:
        return _newlines(replaced), {"encoding": "utf-8", "decode_errors": bad}
    best = _legacy_encoding(list(charset_normalizer.from_bytes(data)))
    if best is None:
        raise FormatError("binary or undecodable content (no text encoding fits); is the extension wrong?")
    return _newlines(str(best)), {"encoding": best.encoding}


PREVALENT_ENCODINGS = {"cp1252", "latin_1", "iso8859_15"}


def _legacy_encoding(matches: list) -> object | None:
    """charset-normalizer's best match, unless a near-equal one reads as clearly more natural language.

    On short Western-European text charset-normalizer often prefers a Baltic or Central-European code page
    (cp1257 for French cp1252: 'Où' -> 'Oł'); lingua's confidence on the decoded text tells them apart.
    """
    if len(matches) < 2:
        return matches[0] if matches else None
    from indexer.language import detector

    def confidence(match) -> float:
        values = detector().compute_language_confidence_values(str(match)[:2048])
        return values[0].value if values else 0.0

    def score(match) -> float:
        # Ties between code pages that decode to equally plausible text (French in cp1252 vs cp1250:
        # 'crème' vs 'crčme') go to the far more common Western code page.
        return confidence(match) + (0.05 if match.encoding in PREVALENT_ENCODINGS else 0.0)

    best = matches[0]
    candidates = [m for m in matches[1:6] if m.chaos <= best.chaos + 0.1]
    scored = [(score(m), m) for m in candidates]
    top_score, top = max(scored, key=lambda x: x[0], default=(0.0, best))
    return top if top_score > score(best) + 0.01 else best


def _newlines(text: str) -> str:
    """Normalise Windows and old-Mac line ends so that character spans mean the same everywhere."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


# ---------------------------------------------------------------- whole-file formats

_MD_TITLE = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


def read_markdown(text: str) -> Extracted:
    """Markdown is indexed as written; the title is the first level-1 ATX heading."""
    match = _MD_TITLE.search(text)
    return Extracted(text=text, title=match.group(1).strip() if match else None)


_DROP_TAGS = ("script", "style", "noscript", "template", "head", "svg", "iframe", "object")
_BLOCK_TAGS = frozenset(
    {"address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog", "div", "dl", "dt"}
    | {"fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup"}
    | {"hr", "html", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "thead", "tfoot"}
    | {"ul"}
)
_LINE_TAGS = frozenset({"br", "tr"})
_PARAGRAPH, _LINE = object(), object()


def read_html(text: str) -> Extracted:
    """Visible text of an HTML page: scripts and styles dropped, block elements separated by blank lines."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")  # stdlib parser: same result everywhere, no lxml needed
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    return Extracted(text=_join_html_parts(_html_parts(soup)), title=title or None)


def _html_parts(soup) -> Iterator[object]:
    """Text pieces and break markers in document order (an explicit stack: deep pages must not recurse)."""
    from bs4 import NavigableString, Tag

    stack: list[tuple[object, bool]] = [(soup, False)]
    while stack:
        node, closing = stack.pop()
        if isinstance(node, Tag):
            name = node.name.lower() if node.name else ""
            marker = _PARAGRAPH if name in _BLOCK_TAGS else _LINE if name in _LINE_TAGS else None
            if marker is not None:
                yield marker
            elif name in ("td", "th"):
                yield " "  # cells of a row stay on one line, apart
            if not closing:
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(node.contents))
        elif type(node) is NavigableString:  # not Comment, Doctype, CData, ProcessingInstruction subclasses
            yield str(node)


def _join_html_parts(parts: Iterator[object]) -> str:
    """Collapse HTML whitespace inside lines; block elements become blank lines, <br>/<tr> line breaks."""
    paragraphs: list[list[list[str]]] = [[[]]]  # paragraphs of lines of raw strings
    for part in parts:
        if part is _PARAGRAPH:
            paragraphs.append([[]])
        elif part is _LINE:
            paragraphs[-1].append([])
        else:
            paragraphs[-1][-1].append(str(part))
    texts = []
    for lines in paragraphs:
        joined = (" ".join("".join(line).split()) for line in lines)
        texts.append("\n".join(line for line in joined if line))
    return "\n\n".join(t for t in texts if t)


def read_pdf(data: bytes) -> Extracted:
    """Text layer of a PDF, pages joined by blank lines; `page_starts` gives each page's character offset."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise FormatError("encrypted PDF; save an unencrypted copy and index that")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except FormatError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as e:
        raise FormatError(f"not a readable PDF ({type(e).__name__}: {e}); re-save or repair it") from e
    if not any(pages):
        raise FormatError(f"no extractable text in {len(pages)} page(s) (scanned?); run OCR first, e.g. ocrmypdf")
    starts, offset = [], 0
    for text in pages:
        starts.append(offset)
        offset += len(text) + 2
    return Extracted(
        text="\n\n".join(pages),
        title=str(title).strip() or None if title else None,
        metadata={"pages": len(pages), "page_starts": starts},
    )


def read_docx(data: bytes) -> Extracted:
    """Paragraphs (and table rows, cells joined by ' | ') of a Word 2007+ document, in document order."""
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as e:  # python-docx raises zipfile, KeyError, lxml and its own errors for damaged files
        raise FormatError(f"not a readable .docx file ({type(e).__name__}: {e}); re-save it from Word") from e
    blocks: list[str] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            rows = (" | ".join(dict.fromkeys(c.text.strip() for c in row.cells if c.text.strip())) for row in item.rows)
            blocks.append("\n".join(r for r in rows if r))
        else:
            blocks.append(item.text.strip())
    text = "\n\n".join(b for b in blocks if b)
    if not text:
        raise FormatError("the document has no text; nothing to index")
    return Extracted(text=text, title=(document.core_properties.title or "").strip() or None)


# ---------------------------------------------------------------- record formats

Record = tuple[int, dict | str]  # (line number, fields) or (line number, reason)


def iter_jsonl(text: str) -> Iterator[Record]:
    """Each non-blank line's JSON object, or a reason naming the line; blank lines are skipped."""
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as e:
            yield number, f"not valid JSON at line {number}: {e.msg} (column {e.colno}); fix or remove the line"
            continue
        if isinstance(value, dict):
            yield number, value
        else:
            yield number, f"line {number} is a JSON {type(value).__name__}, not an object; write one object per line"


_DELIMITERS = (",", ";", "\t", "|")


def iter_csv(text: str, text_field: str) -> Iterator[Record]:
    """Each data row as {column: value}, keyed by the line where the row starts (the header is line 1).

    The delimiter is the first of , ; TAB | whose header holds `text_field`; a row with more cells than the
    header (usually broken quoting) is reported, not guessed at.
    """
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # default 128 KiB per cell is too small for documents
    header, delimiter = _csv_header(text, text_field)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    next(reader)
    line = reader.line_num
    while True:
        start = line + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            yield start, f"CSV syntax error at line {start}: {e}; the rest of the file was skipped, fix the quoting"
            return
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            yield (
                start,
                (f"row at line {start} has {len(row)} cells but the header has {len(header)}; check its quoting"),
            )
            continue
        yield start, dict(zip(header, row, strict=False))


def _csv_header(text: str, text_field: str) -> tuple[list[str], str]:
    """The header row and delimiter; FormatError naming the columns when `text_field` is not one of them."""
    first = None
    for delimiter in _DELIMITERS:
        try:
            row = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        except (StopIteration, csv.Error):
            continue
        header = [name.strip() or f"column_{i + 1}" for i, name in enumerate(row)]
        if text_field in header:
            return header, delimiter
        if first is None or len(header) > len(first):
            first = header
    columns = ", ".join(repr(c) for c in first or [])
    raise FormatError(f"no column {text_field!r}; columns are: {columns}; pass --text-field with one of them")
