"""File loaders: markdown, reStructuredText, plain text, Python, PDF and HTML into pieces."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from copilot.chunking import SEP, Block, Piece, pack, split_markdown, split_python, split_rst, split_text

_PRE_MARK = "\x00PRE{}\x00"
_HTML_DROP = ("script", "style", "noscript", "template", "svg", "head")
_HTML_BLOCKS = ("p", "div", "li", "tr", "section", "article", "table", "ul", "ol", "blockquote",
                "dd", "dt", "main", "header", "footer", "nav", "aside", "figure", "form")


class LoadError(ValueError):
    """A file that cannot be read; the message is one sentence."""


def _read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


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
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, OSError, ValueError, KeyError) as exc:
        raise LoadError(f"PDF {str(path)!r} cannot be read ({exc}).") from None
    doc_title = str(meta_title).strip() or name
    pieces: list[Piece] = []
    for number, page in enumerate(pages, start=1):
        paras = [p.strip() for p in re.split(r"\n\s*\n", page) if p.strip()]
        blocks = [Block(re.sub(r"[ \t]+", " ", p)) for p in paras]
        heading = f"page {number}"
        pieces.extend(Piece(f"{doc_title}{SEP}{heading}", heading, t) for t in pack(blocks))
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
