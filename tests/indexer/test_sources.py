"""indexer.sources: discovery and reading of every format, and every bad input of issue 5, each by name."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from pathlib import Path

import pytest

from indexer.sources import (
    MAX_FILE_BYTES,
    SUPPORTED_EXTENSIONS,
    SourceProblem,
    UnreadableSourceError,
    discover_files,
    read_file,
)


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def _pdf(pages: list[str], title: str | None = None) -> bytes:
    """A minimal PDF with a Helvetica text layer (one line per page), correct xref offsets."""
    n = len(pages)
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: f"<< /Type /Pages /Kids [{' '.join(f'{4 + 2 * i} 0 R' for i in range(n))}] /Count {n} >>".encode(),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
        objects[4 + 2 * i] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {5 + 2 * i} 0 R >>"
        ).encode()
        objects[5 + 2 * i] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    info = 4 + 2 * n
    objects[info] = f"<< /Title ({title}) >>".encode() if title else b"<< >>"
    out, offsets = bytearray(b"%PDF-1.4\n"), {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (info + 1)
    out += b"".join(b"%010d 00000 n \n" % offsets[k] for k in range(1, info + 1))
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (info + 1, info, xref)
    return bytes(out)


def _blank_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _unreadable(path: Path, **kwargs) -> UnreadableSourceError:
    with pytest.raises(UnreadableSourceError) as info:
        read_file(path, **kwargs)
    assert info.value.source == path.resolve().as_posix()
    assert str(info.value).startswith(path.resolve().as_posix() + ": ")
    return info.value


# ---------------------------------------------------------------- happy paths


def test_txt_is_one_document_with_stem_title_and_hash(tmp_path):
    path = _write(tmp_path / "notes.txt", "Wo ist der Bahnhof?\r\nIm Zentrum.\n")
    contents = read_file(path)
    assert contents.path == path.resolve()
    assert contents.file_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert contents.problems == []
    [doc] = contents.documents
    assert (doc.source, doc.record, doc.title) == (path.resolve().as_posix(), None, "notes")
    assert doc.text == "Wo ist der Bahnhof?\nIm Zentrum.\n"  # newlines normalised
    assert doc.metadata["encoding"] == "utf-8"


def test_markdown_title_is_first_h1(tmp_path):
    path = _write(tmp_path / "a.md", "intro\n\n## Not this\n\n# Der Bahnhof #\n\nText.\n")
    [doc] = read_file(path).documents
    assert doc.title == "Der Bahnhof"
    assert "## Not this" in doc.text


def test_html_drops_scripts_keeps_paragraph_breaks(tmp_path):
    html = (
        "<html><head><title> La gare </title><style>p{color:red}</style></head><body>"
        "<h1>Gare</h1><p>Où est <b>la</b> gare ?<br>Au centre.</p><script>alert('x')</script>"
        "<div>Deux<div>Trois</div></div><table><tr><td>a</td><td>b</td></tr></table></body></html>"
    )
    [doc] = read_file(_write(tmp_path / "page.html", html)).documents
    assert doc.title == "La gare"
    assert doc.text == "Gare\n\nOù est la gare ?\nAu centre.\n\nDeux\n\nTrois\n\na b"


def test_pdf_with_text_layer(tmp_path):
    path = _write(tmp_path / "doc.pdf", _pdf(["Hello from page one", "Page two here"], title="Railway Guide"))
    [doc] = read_file(path).documents
    assert doc.title == "Railway Guide"
    assert doc.text == "Hello from page one\n\nPage two here"
    assert doc.metadata == {"pages": 2, "page_starts": [0, len("Hello from page one") + 2]}


def test_docx_paragraphs_tables_and_title(tmp_path):
    import docx

    document = docx.Document()
    document.core_properties.title = "Bahnhof"
    document.add_paragraph("Wo ist der Bahnhof?")
    document.add_paragraph("")
    document.add_paragraph("Im Stadtzentrum.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Gleis", "3"
    path = tmp_path / "doc.docx"
    document.save(path)
    [doc] = read_file(path).documents
    assert doc.title == "Bahnhof"
    assert doc.text == "Wo ist der Bahnhof?\n\nIm Stadtzentrum.\n\nGleis | 3"


def test_jsonl_records_title_and_metadata(tmp_path):
    lines = [{"text": "Erste.", "title": "Eins", "lang": "de"}, {"text": "Second.", "tags": ["a", 1]}]
    path = _write(tmp_path / "r.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n\n")
    contents = read_file(path)
    first, second = contents.documents
    assert (first.record, first.title, first.text, first.metadata) == (1, "Eins", "Erste.", {"lang": "de"})
    assert (second.record, second.title, second.metadata) == (2, "r", {"tags": ["a", 1]})
    json.dumps([d.metadata for d in contents.documents])  # serialisable


def test_jsonl_custom_text_field(tmp_path):
    path = _write(tmp_path / "r.jsonl", json.dumps({"body": "Hallo", "id": 7}))
    [doc] = read_file(path, text_field="body").documents
    assert (doc.text, doc.metadata) == ("Hallo", {"id": 7})


def test_csv_records_with_row_line_numbers(tmp_path):
    path = _write(tmp_path / "t.csv", 'title,text,lang\nEins,"Erste, Zeile",de\nZwei,"zwei\nZeilen",de\n,Drei,\n')
    contents = read_file(path)
    assert [(d.record, d.title, d.text, d.metadata) for d in contents.documents] == [
        (2, "Eins", "Erste, Zeile", {"lang": "de"}),
        (3, "Zwei", "zwei\nZeilen", {"lang": "de"}),
        (5, "t", "Drei", {"title": "", "lang": ""}),
    ]


def test_csv_semicolon_delimiter_and_row_without_text(tmp_path):
    path = _write(tmp_path / "t.csv", "id;text\n1;Hallo\n2;\n3;Welt\n")
    contents = read_file(path)
    assert [d.text for d in contents.documents] == ["Hallo", "Welt"]
    [problem] = contents.problems
    assert problem.record == 3 and "empty 'text'" in problem.reason


def test_legacy_encoding_is_detected(tmp_path):
    text = "Où est la gare ? La gare est au centre-ville, près du marché. Déjà vu, très élégant, garçon. " * 5
    [doc] = read_file(_write(tmp_path / "fr.txt", text.encode("cp1252"))).documents
    assert doc.text == text
    assert doc.metadata["encoding"] != "utf-8"


def test_utf16_with_bom(tmp_path):
    [doc] = read_file(_write(tmp_path / "u.txt", "\ufeffГде вокзал?".encode("utf-16-le"))).documents
    assert doc.text == "Где вокзал?"


# ---------------------------------------------------------------- every bad input of issue 5


def test_empty_and_whitespace_only_files(tmp_path):
    assert "empty file" in _unreadable(_write(tmp_path / "empty.txt", b"")).reason
    assert "only whitespace" in _unreadable(_write(tmp_path / "blank.md", " \n\t\n")).reason
    assert "empty file" in _unreadable(_write(tmp_path / "empty.pdf", b"")).reason


def test_binary_content_with_text_extension(tmp_path):
    path = _write(tmp_path / "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    assert "binary content" in _unreadable(path).reason


def test_invalid_utf8_is_decoded_with_replacement_and_recorded(tmp_path):
    data = "Grüße aus Köln, schöne Straße. ".encode() * 3 + b"\xff\xfe bad \xc3" + b" Ende."
    [doc] = read_file(_write(tmp_path / "bad.txt", data)).documents
    assert doc.text.startswith("Grüße aus Köln")
    assert doc.text.count("\ufffd") == 3
    assert doc.metadata == {"encoding": "utf-8", "decode_errors": 3}


def test_50_mb_file_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "huge.txt"
    with path.open("wb") as f:
        f.truncate(50 * 1024 * 1024)  # sparse: no 50 MB written
    began = time.perf_counter()
    error = _unreadable(path)
    assert time.perf_counter() - began < 0.5
    assert "50.0 MiB" in error.reason and "20.0 MiB limit" in error.reason
    assert MAX_FILE_BYTES == 20 * 1024 * 1024
    small = _write(tmp_path / "small.txt", "x" * 2000)
    assert "limit" in _unreadable(small, max_bytes=1000).reason


def test_pdf_without_text_layer(tmp_path):
    error = _unreadable(_write(tmp_path / "scan.pdf", _blank_pdf()))
    assert "no extractable text" in error.reason and "OCR" in error.reason


def test_damaged_pdf_and_docx(tmp_path):
    assert "not a readable PDF" in _unreadable(_write(tmp_path / "x.pdf", b"%PDF-1.4 garbage")).reason
    assert "not a readable .docx" in _unreadable(_write(tmp_path / "x.docx", b"not a zip")).reason


def test_unsupported_extension(tmp_path):
    path = _write(tmp_path / "data.xyz", "text")
    assert "unsupported extension .xyz" in _unreadable(path).reason
    [problem] = list(discover_files([tmp_path]))
    assert isinstance(problem, SourceProblem)
    assert problem.source == path.resolve().as_posix()
    assert problem.reason.startswith("unsupported extension .xyz; supported: ")
    assert all(ext in problem.reason for ext in SUPPORTED_EXTENSIONS)


def test_unreadable_file_permissions(tmp_path):
    path = _write(tmp_path / "secret.txt", "geheim")
    path.chmod(0)
    try:
        try:
            path.read_bytes()
            pytest.skip("running with privileges that ignore file permissions (root)")
        except PermissionError:
            pass
        assert "permission denied" in _unreadable(path).reason
    finally:
        path.chmod(0o644)


def test_symlink_loop_is_reported_not_followed(tmp_path):
    root = tmp_path / "docs"
    _write(root / "a.txt", "A")
    _write(root / "sub" / "b.txt", "B")
    (root / "sub" / "up").symlink_to(root, target_is_directory=True)
    (root / "self1").symlink_to(root / "self2")
    (root / "self2").symlink_to(root / "self1")
    items = list(discover_files([root]))
    files = [i for i in items if isinstance(i, Path)]
    problems = [i for i in items if isinstance(i, SourceProblem)]
    assert files == [(root / "a.txt").resolve(), (root / "sub" / "b.txt").resolve()]
    assert len(problems) == 3
    assert any("symlink loop" in p.reason and p.source.endswith("sub/up") for p in problems)
    assert sum("symlink loop" in p.reason for p in problems) == 3


def test_jsonl_bad_line_keeps_the_other_lines(tmp_path):
    path = _write(tmp_path / "r.jsonl", '{"text": "eins"}\n{not json}\n[1, 2]\n{"body": "x"}\n{"text": "fünf"}\n')
    contents = read_file(path)
    assert [(d.record, d.text) for d in contents.documents] == [(1, "eins"), (5, "fünf")]
    assert [p.record for p in contents.problems] == [2, 3, 4]
    assert contents.problems[0].reason.startswith("not valid JSON at line 2: ")
    assert contents.problems[0].reason.endswith("fix or remove the line")
    assert "not an object" in contents.problems[1].reason
    assert "no 'text' field (fields: 'body')" in contents.problems[2].reason


def test_jsonl_with_only_bad_lines_is_unreadable(tmp_path):
    error = _unreadable(_write(tmp_path / "r.jsonl", "{oops\n{also bad\n"))
    assert "no usable records (2 bad; first: not valid JSON at line 1" in error.reason


def test_csv_without_the_text_column(tmp_path):
    error = _unreadable(_write(tmp_path / "t.csv", "title,body\nA,Hallo\n"))
    assert error.reason == "no column 'text'; columns are: 'title', 'body'; pass --text-field with one of them"


def test_missing_path_is_a_problem(tmp_path):
    [problem] = list(discover_files([tmp_path / "nope"]))
    assert isinstance(problem, SourceProblem) and "no such file" in problem.reason


# ---------------------------------------------------------------- discovery


def _tree(root: Path) -> None:
    for name in ("b.txt", "a.md", "sub/c.html", "sub/deep/d.txt", "drafts/e.txt", ".git/config.txt", "z.csv"):
        _write(root / name, "x")


def _files(items) -> list[str]:
    return [p.name for p in items if isinstance(p, Path)]


def test_discovery_is_sorted_recursive_and_skips_hidden(tmp_path):
    _tree(tmp_path)
    assert _files(discover_files([tmp_path])) == ["a.md", "b.txt", "e.txt", "c.html", "d.txt", "z.csv"]
    assert _files(discover_files([tmp_path])) == _files(discover_files([tmp_path]))
    assert "config.txt" in _files(discover_files([tmp_path], include_hidden=True))


def test_include_and_exclude_globs(tmp_path):
    _tree(tmp_path)
    assert _files(discover_files([tmp_path], include=["*.txt"])) == ["b.txt", "e.txt", "d.txt"]
    assert _files(discover_files([tmp_path], include=["sub/**"])) == ["c.html", "d.txt"]
    assert _files(discover_files([tmp_path], include=["sub/*"])) == ["c.html"]
    assert _files(discover_files([tmp_path], exclude=["drafts/**", "**/deep/**"])) == [
        "a.md",
        "b.txt",
        "c.html",
        "z.csv",
    ]
    assert _files(discover_files([tmp_path], include=["**/*.txt"], exclude=["d.txt"])) == ["b.txt", "e.txt"]
    assert _files(discover_files([tmp_path], exclude=["drafts", "deep"])) == ["a.md", "b.txt", "c.html", "z.csv"]
    assert _files(discover_files([tmp_path], include=["*.txt", "*.csv"], exclude=["b*"])) == ["e.txt", "d.txt", "z.csv"]


def test_each_file_once_across_roots_and_links(tmp_path):
    _write(tmp_path / "docs" / "a.txt", "x")
    (tmp_path / "link.txt").symlink_to(tmp_path / "docs" / "a.txt")
    (tmp_path / "docs_link").symlink_to(tmp_path / "docs", target_is_directory=True)
    items = list(discover_files([tmp_path / "docs", tmp_path, tmp_path / "docs" / "a.txt"]))
    assert items == [(tmp_path / "docs" / "a.txt").resolve()]


def test_file_given_directly_matches_globs_by_name(tmp_path):
    path = _write(tmp_path / "a.txt", "x")
    assert list(discover_files([path], include=["*.txt"])) == [path.resolve()]
    assert list(discover_files([path], exclude=["a.*"])) == []


def test_discovery_then_reading_a_mixed_folder(tmp_path):
    _write(tmp_path / "ok.txt", "Hallo Welt")
    _write(tmp_path / "empty.txt", "")
    _write(tmp_path / "skip.bin", b"\x00")
    read, failed, skipped = [], [], []
    for item in discover_files([tmp_path]):
        if isinstance(item, SourceProblem):
            skipped.append(item)
            continue
        try:
            read.append(read_file(item))
        except UnreadableSourceError as e:
            failed.append(e)
    assert [c.path.name for c in read] == ["ok.txt"]
    assert [os.path.basename(e.source) for e in failed] == ["empty.txt"]
    assert [os.path.basename(p.source) for p in skipped] == ["skip.bin"]


def test_permission_denied_is_reported_even_as_root(tmp_path, monkeypatch):
    path = _write(tmp_path / "secret.txt", "geheim")

    def deny(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", deny)
    assert "permission denied" in _unreadable(path).reason
