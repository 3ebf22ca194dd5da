"""File loaders: markdown, reStructuredText, plain text, Python, PDF and HTML into pieces.

Files are read through :func:`read_source`, which refuses what it cannot read with a reason
(:data:`SKIP_REASONS`) instead of hanging or indexing garbage: anything but a regular file is
never opened (a FIFO would block), links that loop or lead nowhere, unreadable files, binary
content in a text file (NUL bytes, or mostly invalid UTF-8) and ``.pdf`` files that are not PDFs.
"""

from __future__ import annotations

import errno
import io
import os
import re
import stat
from pathlib import Path
from typing import Callable

from copilot.chunking import SEP, Block, Piece, pack, split_markdown, split_python, split_rst, split_text

_PRE_MARK = "\x00PRE{}\x00"
_HTML_DROP = ("script", "style", "noscript", "template", "svg", "head")
_HTML_BLOCKS = ("p", "div", "li", "tr", "section", "article", "table", "ul", "ol", "blockquote",
                "dd", "dt", "main", "header", "footer", "nav", "aside", "figure", "form")


SKIP_REASONS = {"not_regular": "not a regular file", "symlink_loop": "symbolic link loop",
                "broken_link": "broken symbolic link", "unreadable": "unreadable",
                "binary": "binary content", "invalid_pdf": "not a readable PDF", "too_large": "too large",
                "link_outside": "a link leading outside the folder being ingested"}
MAX_INVALID_UTF8 = 0.1  # share of bytes that are not UTF-8 above which a text file is binary
MAX_BYTES = 256 * 2**20  # larger files are not read


class LoadError(ValueError):
    """A file that cannot be read; the message is one sentence."""


class Unreadable(LoadError):
    """A file ingest skips: ``reason`` is a key of :data:`SKIP_REASONS`, ``detail`` says more."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason, self.detail = reason, detail
        super().__init__(SKIP_REASONS[reason] + (f" ({detail})" if detail else ""))


def _file_type(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a plain file"


def _os_error(path: Path, exc: OSError) -> Unreadable:
    if exc.errno == errno.ELOOP:
        return Unreadable("symlink_loop")
    if exc.errno == errno.ENOENT and os.path.islink(path):
        return Unreadable("broken_link", f"points to {os.readlink(path)!r}")
    return Unreadable("unreadable", exc.strerror or type(exc).__name__)


def check_content(path: Path, data: bytes) -> None:
    """Refuse bytes that are not what ``path``'s suffix promises (binary text, a non-PDF .pdf)."""
    if path.suffix.lower() == ".pdf":
        if b"%PDF-" not in data[:1024]:
            raise Unreadable("invalid_pdf", "no %PDF- header")
        return
    if b"\x00" in data:
        raise Unreadable("binary", "NUL bytes")
    invalid = len(data) - len(data.decode("utf-8", errors="ignore").encode("utf-8"))
    if invalid > MAX_INVALID_UTF8 * len(data):
        raise Unreadable("binary", f"{100 * invalid / len(data):.0f}% of bytes are not UTF-8")


def read_source(path: Path) -> bytes:
    """The bytes of a file that ingest can use, or :class:`Unreadable` saying why not.

    Only a regular file is opened (non-blocking, and checked again once open), so a FIFO or
    device named like a document never blocks the reader.
    """
    try:
        if not stat.S_ISREG(mode := os.stat(path).st_mode):
            raise Unreadable("not_regular", _file_type(mode))
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise Unreadable("not_regular", _file_type(info.st_mode))
            if info.st_size > MAX_BYTES:
                raise Unreadable("too_large", f"{info.st_size:,} bytes; the limit is {MAX_BYTES:,}")
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise _os_error(path, exc) from None
    check_content(path, data)
    return data


def _read_text(path: Path) -> str:
    return read_source(path).decode("utf-8", errors="replace")


def load_markdown(path: Path, name: str) -> list[Piece]:
    return split_markdown(_read_text(path), name)


def load_rst(path: Path, name: str) -> list[Piece]:
    return split_rst(_read_text(path), name)


def load_text(path: Path, name: str) -> list[Piece]:
    return split_text(_read_text(path), name)


def load_python(path: Path, name: str) -> list[Piece]:
    return split_python(_read_text(path), name)


def load_pdf(path: Path, name: str) -> list[Piece]:
    """One or more pieces per page; the title is the PDF's own title (else the file name)."""
    from pypdf import PdfReader

    data = read_source(path)
    try:
        reader = PdfReader(io.BytesIO(data))
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:  # noqa: BLE001 - a damaged PDF fails in many ways inside pypdf
        raise Unreadable("invalid_pdf", f"{type(exc).__name__}: {exc}"[:160]) from None
    doc_title = str(meta_title).strip() or name
    pieces: list[Piece] = []
    for number, page in enumerate(pages, start=1):
        paras = [p.strip() for p in re.split(r"\n\s*\n", page) if p.strip()]
        blocks = [Block(re.sub(r"[ \t]+", " ", p)) for p in paras]
        heading = f"page {number}"
        pieces.extend(Piece(f"{doc_title}{SEP}{heading}", heading, t, part=i) for i, t in enumerate(pack(blocks)))
    return pieces


def html_to_markdown(html: str) -> tuple[str, str]:
    """(title, markdown-like text) of an HTML page: headings become ``#`` lines, ``pre`` fences."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(list(_HTML_DROP)):
        tag.decompose()
    codes: list[str] = []
    for pre in soup.find_all("pre"):
        codes.append(pre.get_text())
        pre.replace_with(f"\n\n{_PRE_MARK.format(len(codes) - 1)}\n\n")
    for level in range(1, 7):
        for head in soup.find_all(f"h{level}"):
            text = " ".join(head.get_text(" ").split())
            head.replace_with(f"\n\n{'#' * level} {text}\n\n" if text else "\n\n")
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for tag in soup.find_all(list(_HTML_BLOCKS)):
        tag.insert_after("\n\n")
    lines = [" ".join(line.split()) for line in soup.get_text().splitlines()]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    for idx, code in enumerate(codes):
        text = text.replace(_PRE_MARK.format(idx), f"```\n{code.strip(chr(10))}\n```")
    return title, text


def load_html(path: Path, name: str) -> list[Piece]:
    title, text = html_to_markdown(_read_text(path))
    return split_markdown(text, title or name)


LOADERS: dict[str, Callable[[Path, str], list[Piece]]] = {
    ".md": load_markdown, ".markdown": load_markdown, ".rst": load_rst, ".txt": load_text,
    ".py": load_python, ".pdf": load_pdf, ".html": load_html, ".htm": load_html,
}


def supported(path: Path) -> bool:
    return path.suffix.lower() in LOADERS


def load(path: Path, name: str) -> list[Piece]:
    """Pieces of one file; ``name`` stands for the document where it has no title of its own."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise LoadError(f"Cannot ingest {str(path)!r}: supported file types are "
                        f"{', '.join(sorted(LOADERS))}.")
    return loader(path, name)
