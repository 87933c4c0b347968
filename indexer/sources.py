"""Sources: find the files under the given paths and read each into documents, reporting what cannot be read.

`discover_files` walks folders (sorted, deterministic, symlink loops reported) and yields files or problems;
`read_file` turns one file into `SourceDocument`s (one per file, or one per JSONL line / CSV row) and raises
`UnreadableSourceError` when the whole file is unusable. Nothing here knows about chunks or vectors.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from indexer import readers
from indexer.readers import FormatError

SUPPORTED_EXTENSIONS = {".txt", ".md", ".html", ".htm", ".pdf", ".jsonl", ".csv", ".docx"}
MAX_FILE_BYTES = 20 * 1024 * 1024
_RECORD_EXTENSIONS = {".jsonl", ".csv"}
_BINARY_EXTENSIONS = {".pdf", ".docx"}


@dataclass(frozen=True)
class SourceDocument:
    """One document to chunk: a whole file, or one record (1-based line) of a .jsonl/.csv file."""

    source: str
    record: int | None
    title: str
    text: str
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SourceProblem:
    """Something that was not indexed (a path, a file or one record) and why, with the fix."""

    source: str
    record: int | None
    reason: str


@dataclass
class FileContents:
    """A file's documents, its content hash, and the records of it that could not be used."""

    path: Path
    file_hash: str
    documents: list[SourceDocument]
    problems: list[SourceProblem]


class UnreadableSourceError(Exception):
    """A whole file cannot be read; str(e) names the file and the reason."""

    def __init__(self, source: str, reason: str):
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


def _supported() -> str:
    return " ".join(sorted(SUPPORTED_EXTENSIONS))


# ---------------------------------------------------------------- discovery


def discover_files(
    paths: Iterable[Path],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    include_hidden: bool = False,
) -> Iterator[Path | SourceProblem]:
    """Yield the resolved files under `paths` (sorted, each once) and a SourceProblem for each one skipped.

    `include`/`exclude` are glob patterns on the path relative to the given root ('*' stays inside one folder,
    '**' crosses folders; a pattern without '/' matches a file or folder name at any depth, so `*.md` and
    `drafts` work as in .gitignore); excluded files are skipped silently. Hidden entries (a name starting
    with '.', e.g. .git) inside folders are skipped unless `include_hidden`; a hidden path named explicitly
    is walked.
    """
    seen: set[Path] = set()
    for root in paths:
        root = Path(root)
        for item in _walk(root, include_hidden):
            if isinstance(item, SourceProblem):
                yield item
                continue
            path, resolved = item
            relative = path.name if path == root else path.relative_to(root).as_posix()
            if (include and not _matches(relative, include)) or _matches(relative, exclude):
                continue
            if resolved in seen:
                continue
            seen.add(resolved)
            if resolved.suffix.lower() not in SUPPORTED_EXTENSIONS:
                ext = resolved.suffix.lower() or "(none)"
                yield SourceProblem(
                    resolved.as_posix(),
                    None,
                    f"unsupported extension {ext}; supported: {_supported()} (skip it with --exclude)",
                )
                continue
            yield resolved


def _walk(root: Path, include_hidden: bool) -> Iterator[tuple[Path, Path] | SourceProblem]:
    """Depth-first, name-sorted walk yielding (path as walked, resolved path); dirs on the current branch
    are remembered so a symlink back up the tree is reported instead of followed forever."""
    try:
        resolved_root = root.resolve(strict=True)
    except FileNotFoundError:
        yield SourceProblem(_abs(root), None, "no such file or folder; check the path")
        return
    except (RuntimeError, OSError) as e:
        yield SourceProblem(_abs(root), None, f"cannot resolve the path ({e}); a symlink loop? fix or remove it")
        return
    stack: list[tuple[Path, Path, frozenset[Path]]] = [(root, resolved_root, frozenset())]
    walked: set[Path] = set()  # a folder reached twice through symlinks is walked once
    while stack:
        path, resolved, ancestors = stack.pop()
        try:
            mode = resolved.stat().st_mode
        except OSError as e:
            yield SourceProblem(resolved.as_posix(), None, f"cannot stat ({e.strerror}); check permissions")
            continue
        if stat.S_ISREG(mode):
            yield path, resolved
            continue
        if not stat.S_ISDIR(mode):
            yield SourceProblem(resolved.as_posix(), None, "not a regular file or folder (device, pipe, socket)")
            continue
        if resolved in ancestors:
            yield SourceProblem(
                _abs(path), None, f"symlink loop: points back to {resolved.as_posix()}; not followed, remove the link"
            )
            continue
        if resolved in walked:
            continue
        walked.add(resolved)
        children, problem = _list_dir(path, resolved, include_hidden)
        if problem:
            yield problem
        inner = ancestors | {resolved}
        for child in reversed(children):
            try:
                stack.append((child, child.resolve(strict=True), inner))
            except FileNotFoundError:
                yield SourceProblem(_abs(child), None, "broken symlink (its target does not exist); fix or remove it")
            except (RuntimeError, OSError) as e:
                yield SourceProblem(_abs(child), None, f"symlink loop ({e}); not followed, remove the link")


def _list_dir(path: Path, resolved: Path, include_hidden: bool) -> tuple[list[Path], SourceProblem | None]:
    try:
        names = sorted(os.listdir(resolved))
    except OSError as e:
        return [], SourceProblem(resolved.as_posix(), None, f"cannot list folder ({e.strerror}); check permissions")
    return [path / n for n in names if include_hidden or not n.startswith(".")], None


def _abs(path: Path) -> str:
    """Absolute posix path without resolving symlinks (the link itself is what the user must fix)."""
    return Path(os.path.abspath(path)).as_posix()


def _matches(relative: str, patterns: Sequence[str]) -> bool:
    """A pattern with '/' matches the whole relative path; one without matches any of its parts (gitignore)."""
    parts = relative.split("/")
    return any(
        _glob_regex(p).fullmatch(relative) if "/" in p else any(_glob_regex(p).fullmatch(part) for part in parts)
        for p in patterns
    )


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """'**/' any folders (or none), '**' anything, '*' and '?' within one path segment, [...] classes."""
    out, i = [], 0
    pattern = pattern.removeprefix("./")
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (close := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : close]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
            i = close + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


# ---------------------------------------------------------------- reading


def read_file(path: Path, text_field: str = "text", max_bytes: int = MAX_FILE_BYTES) -> FileContents:
    """Read one file into documents; raise UnreadableSourceError when none of it can be used."""
    path = Path(path)
    source = _abs(path)
    try:
        path = path.resolve(strict=True)
        source = path.as_posix()
    except (OSError, RuntimeError) as e:
        raise UnreadableSourceError(source, f"cannot open ({e}); check the path") from e
    ext = path.suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        raise UnreadableSourceError(source, f"unsupported extension {ext or '(none)'}; supported: {_supported()}")
    data = _read_bytes(path, source, max_bytes)
    file_hash = hashlib.sha256(data).hexdigest()
    if not data.strip():
        raise UnreadableSourceError(source, "empty file" if not data else "the file contains only whitespace")
    try:
        documents, problems = _parse(path, source, ext, data, text_field)
    except FormatError as e:
        raise UnreadableSourceError(source, str(e)) from e
    return FileContents(path=path, file_hash=file_hash, documents=documents, problems=problems)


def _read_bytes(path: Path, source: str, max_bytes: int) -> bytes:
    """The file's bytes; the size is checked first so a huge file is refused without reading it."""
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > max_bytes:
                raise UnreadableSourceError(source, _too_large(size, max_bytes))
            data = f.read(max_bytes + 1)  # the file may have grown since fstat
    except PermissionError as e:
        raise UnreadableSourceError(source, "permission denied; make it readable (chmod +r) or exclude it") from e
    except IsADirectoryError as e:
        raise UnreadableSourceError(source, "is a folder, not a file") from e
    except OSError as e:
        raise UnreadableSourceError(source, f"cannot read ({e.strerror or e})") from e
    if len(data) > max_bytes:
        raise UnreadableSourceError(source, _too_large(len(data), max_bytes))
    return data


def _too_large(size: int, max_bytes: int) -> str:
    mib = 1024 * 1024
    return (
        f"file is {size / mib:.1f} MiB, over the {max_bytes / mib:.1f} MiB limit; split it, or raise the limit "
        "(max_bytes / --max-file-mb)"
    )


def _parse(
    path: Path, source: str, ext: str, data: bytes, text_field: str
) -> tuple[list[SourceDocument], list[SourceProblem]]:
    if ext in _BINARY_EXTENSIONS:
        extracted = readers.read_pdf(data) if ext == ".pdf" else readers.read_docx(data)
        return [_whole(path, source, extracted)], []
    text, facts = readers.decode_text(data)
    if not text.strip():
        raise FormatError("the file contains only whitespace")
    if ext in _RECORD_EXTENSIONS:
        records = readers.iter_jsonl(text) if ext == ".jsonl" else readers.iter_csv(text, text_field)
        return _records(path, source, records, text_field)
    extracted = (
        readers.read_markdown(text)
        if ext == ".md"
        else (readers.read_html(text) if ext in {".html", ".htm"} else readers.Extracted(text=text))
    )
    extracted.metadata.update(facts)
    if not extracted.text.strip():
        raise FormatError("no visible text (only markup, scripts or styles)")
    return [_whole(path, source, extracted)], []


def _whole(path: Path, source: str, extracted: readers.Extracted) -> SourceDocument:
    return SourceDocument(source, None, extracted.title or path.stem, extracted.text, extracted.metadata)


def _records(
    path: Path, source: str, records: Iterator[readers.Record], text_field: str
) -> tuple[list[SourceDocument], list[SourceProblem]]:
    """Documents from records: `text_field` is the text, a string 'title' the title, the rest metadata."""
    documents, problems = [], []
    for number, record in records:
        if isinstance(record, dict):
            text = record.get(text_field)
            reason = _record_problem(number, record, text_field, text)
        else:
            reason = record
        if reason:
            problems.append(SourceProblem(source, number, reason))
            continue
        title = record.get("title")
        title = title.strip() if isinstance(title, str) and title.strip() else None
        metadata = {k: v for k, v in record.items() if k != text_field and not (k == "title" and title)}
        documents.append(SourceDocument(source, number, title or path.stem, text, metadata))
    if not documents:
        first = problems[0].reason if problems else "no records"
        raise FormatError(f"no usable records ({len(problems)} bad; first: {first})")
    return documents, problems


def _record_problem(number: int, record: dict, text_field: str, text: object) -> str | None:
    if text_field not in record:
        fields = ", ".join(repr(k) for k in record) or "none"
        return f"record at line {number} has no {text_field!r} field (fields: {fields}); pass --text-field"
    if not isinstance(text, str):
        return f"record at line {number}: {text_field!r} is a {type(text).__name__}, not a string"
    if not text.strip():
        return f"record at line {number} has an empty {text_field!r}; fill it or remove the record"
    return None
