"""Structure-aware splitting of documents into retrieval pieces.

Markdown and reStructuredText are cut at headings (a piece's title is its heading path),
fenced or literal code blocks stay whole, and long sections are packed paragraph by paragraph
up to :data:`CAP` characters with a short overlap. Python is cut at top-level symbols.
File loaders that turn PDF and HTML into text live in :mod:`copilot.loaders`.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from copilot.evidence import LIST_ITEM, LIST_MARKER

CAP = 1200  # soft size cap of a piece, in characters
OVERLAP = 150  # characters of the previous piece repeated at the start of the next
SEP = " > "  # joins a heading path into a title

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_RST_ADORN = re.compile(r"^([=\-~^\"'`#*+:.])\1+\s*$")
_RST_CODE = re.compile(r"^\.\.\s+(code-block|code|sourcecode|literalinclude)::")
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s+")


@dataclass(frozen=True)
class Block:
    """A unit that packing never cuts through unless it is prose longer than the cap."""

    text: str
    whole: bool = False  # a code block or a table's part: never cut, and never carried into the next piece


@dataclass(frozen=True)
class Piece:
    """One retrieval unit before it gets an id: its title, heading, text and symbol."""

    title: str
    heading: str
    text: str
    symbol: str | None = None
    part: int = 0  # its place among the pieces of its section: 0 begins the section




def _split_long(text: str, cap: int = CAP) -> list[str]:
    """Cut prose longer than ``cap`` at sentence ends, then at spaces. A list item keeps its
    marker and its own line, so "2. Too many epochs" is not read as the end of item 1."""
    parts: list[tuple[bool, str]] = []  # (starts a list item, text)
    for item in LIST_ITEM.split(text):
        marker = LIST_MARKER.match(item)
        head, item = (marker.group(0).strip() + " ", item[marker.end():]) if marker else ("", item)
        for i, sentence in enumerate(_SENTENCE.split(item)):
            sentence = (head if i == 0 else "") + sentence
            while len(sentence) > cap:
                cut = sentence.rfind(" ", cap // 2, cap)
                cut = cap if cut < 0 else cut
                parts.append((bool(head) and i == 0, sentence[:cut].strip()))
                sentence, head = sentence[cut:].strip(), ""
            if sentence.strip():
                parts.append((bool(head) and i == 0, sentence.strip()))
    out: list[str] = []
    for starts_item, part in parts:
        if out and len(out[-1]) + 1 + len(part) <= cap:
            out[-1] = f"{out[-1]}{chr(10) if starts_item else ' '}{part}"
        else:
            out.append(part)
    return out


def _tail(text: str, size: int = OVERLAP) -> str:
    """The last ``size`` characters of prose, started at a sentence or word boundary."""
    if len(text) <= size:
        return text
    window = text[-size:]
    match = _SENTENCE.search(window)
    if match and match.end() < len(window):
        return window[match.end():]
    space = window.find(" ")
    return window[space + 1:] if space >= 0 else window


_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}")


def _split_table(text: str, cap: int = CAP) -> list[str] | None:
    """A markdown table cut between rows into parts of at most ``cap`` characters, each under
    the table's header and rule, so no row is cut and every row reads under its column names
    (a short table is one part); None for text that is no table with a header."""
    lines = text.splitlines()
    if len(lines) < 3 or not all(line.lstrip().startswith("|") for line in lines) or not _TABLE_RULE.match(lines[1]):
        return None
    head, parts = "\n".join(lines[:2]), [[]]
    for row in lines[2:]:
        if parts[-1] and len(head) + sum(len(r) + 1 for r in parts[-1]) + len(row) + 1 > cap:
            parts.append([])
        parts[-1].append(row)
    return ["\n".join([head, *rows]) for rows in parts]


def pack(blocks: list[Block], cap: int = CAP, overlap: int = OVERLAP) -> list[str]:
    """Join blocks into texts of at most ``cap`` characters (code blocks are never cut; a long
    table is cut between rows, its header repeated, and no piece of it is carried over)."""
    units: list[Block] = []
    for block in blocks:
        if not block.whole and (rows := _split_table(block.text, cap)) is not None:
            units.extend(Block(part, whole=True) for part in rows)
        elif block.whole or len(block.text) <= cap:
            units.append(block)
        else:
            units.extend(Block(part) for part in _split_long(block.text, cap))
    texts: list[str] = []
    current: list[Block] = []
    size = 0
    for unit in units:
        if current and size + len(unit.text) + 2 > cap:
            texts.append("\n\n".join(b.text for b in current))
            last = current[-1]
            current, size = [], 0
            if overlap and not last.whole and not unit.whole:
                carried = _tail(last.text, overlap)
                if carried and len(carried) + len(unit.text) + 2 <= cap:
                    current, size = [Block(carried)], len(carried) + 2
        current.append(unit)
        size += len(unit.text) + 2
    if current:
        texts.append("\n\n".join(b.text for b in current))
    return texts


def _sections_to_pieces(sections: list[tuple[list[tuple[int, str]], list[Block]]],
                        doc_name: str) -> list[Piece]:
    pieces: list[Piece] = []
    for path, blocks in sections:
        if not blocks:
            continue
        names = [title for _, title in path]
        if not path or path[0][0] != 1:
            names = [doc_name, *names]
        title = SEP.join(names)
        heading = names[-1]
        pieces.extend(Piece(title, heading, text, part=i) for i, text in enumerate(pack(blocks)))
    return pieces


class _SectionBuilder:
    """Collects blocks under a heading path while a document is scanned line by line."""

    def __init__(self) -> None:
        self.sections: list[tuple[list[tuple[int, str]], list[Block]]] = []
        self.path: list[tuple[int, str]] = []
        self.blocks: list[Block] = []
        self.para: list[str] = []

    def flush_para(self) -> None:
        text = "\n".join(self.para).strip()
        if text:
            self.blocks.append(Block(text))
        self.para = []

    def add_code(self, lines: list[str]) -> None:
        self.flush_para()
        text = "\n".join(lines).strip("\n")
        if text.strip():
            self.blocks.append(Block(text, whole=True))

    def heading(self, level: int, title: str) -> None:
        self.flush_para()
        self.sections.append((list(self.path), self.blocks))
        self.blocks = []
        while self.path and self.path[-1][0] >= level:
            self.path.pop()
        self.path.append((level, title.strip()))

    def finish(self) -> list[tuple[list[tuple[int, str]], list[Block]]]:
        self.flush_para()
        self.sections.append((list(self.path), self.blocks))
        return self.sections


def split_markdown(text: str, doc_name: str) -> list[Piece]:
    """Pieces of a markdown document, cut at ATX headings; fenced code stays whole."""
    builder = _SectionBuilder()
    fence: str | None = None
    code: list[str] = []
    for line in text.splitlines():
        if fence is not None:
            code.append(line)
            stripped = line.strip()
            if stripped.startswith(fence) and set(stripped) == {fence[0]}:
                builder.add_code(code)
                fence = None
            continue
        fence_match = _FENCE.match(line)
        heading_match = _MD_HEADING.match(line)
        if fence_match:
            builder.flush_para()
            fence, code = fence_match.group(1), [line]
        elif heading_match and heading_match.group(2):
            builder.heading(len(heading_match.group(1)), heading_match.group(2))
        elif not line.strip():
            builder.flush_para()
        else:
            builder.para.append(line)
    if fence is not None:
        builder.add_code(code)
    return _sections_to_pieces(builder.finish(), doc_name)


def _rst_heading(lines: list[str], i: int) -> tuple[str, str, int] | None:
    """(style, title, lines consumed) when a heading starts at line ``i``."""
    line = lines[i]
    nxt = lines[i + 1] if i + 1 < len(lines) else ""
    if _RST_ADORN.match(line) and i + 2 < len(lines):
        title, under = lines[i + 1], lines[i + 2]
        if title.strip() and under.strip() == line.strip() and len(line.strip()) >= len(title.strip()):
            return "over" + line.strip()[0], title.strip(), 3
    if line.strip() and not line[0].isspace() and _RST_ADORN.match(nxt) \
            and len(nxt.strip()) >= len(line.rstrip()) and not _RST_ADORN.match(line):
        return nxt.strip()[0], line.strip(), 2
    return None


def _rst_literal(lines: list[str], i: int) -> int:
    """Index just past the indented literal block that starts at line ``i``."""
    j = i
    while j < len(lines) and (not lines[j].strip() or lines[j][0].isspace()):
        j += 1
    while j > i and not lines[j - 1].strip():
        j -= 1
    return j


def split_rst(text: str, doc_name: str) -> list[Piece]:
    """Pieces of a reStructuredText document, cut at section titles; literal blocks stay whole."""
    lines = text.splitlines()
    builder = _SectionBuilder()
    styles: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        found = _rst_heading(lines, i)
        if found:
            style, title, used = found
            if style not in styles:
                styles.append(style)
            builder.heading(styles.index(style) + 1, title)
            i += used
        elif _RST_CODE.match(line.strip()) or (line.rstrip().endswith("::") and line.strip()):
            directive = bool(_RST_CODE.match(line.strip()))
            if not directive:
                builder.para.append(line)
                builder.flush_para()
            end = _rst_literal(lines, i + 1)
            builder.add_code(lines[i:end] if directive else lines[i + 1:end])
            i = end
        elif not line.strip():
            builder.flush_para()
            i += 1
        else:
            builder.para.append(line)
            i += 1
    return _sections_to_pieces(builder.finish(), doc_name)


def split_text(text: str, doc_name: str) -> list[Piece]:
    """Pieces of plain text, packed paragraph by paragraph."""
    blocks = [Block(p.strip()) for p in re.split(r"\n\s*\n", text) if p.strip()]
    return [Piece(doc_name, doc_name, t, part=i) for i, t in enumerate(pack(blocks))]


def _node_start(node: ast.AST) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _class_pieces(node: ast.ClassDef, lines: list[str], module: str) -> list[Piece]:
    """A big class as its header plus one piece per method."""
    methods = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    head_end = _node_start(methods[0]) - 1 if methods else node.end_lineno
    pieces = [Piece(f"{module}.{node.name}", node.name,
                    "\n".join(lines[_node_start(node) - 1:head_end]).rstrip(), node.name)]
    for meth in methods:
        symbol = f"{node.name}.{meth.name}"
        body = "\n".join(lines[_node_start(meth) - 1:meth.end_lineno])
        pieces.append(Piece(f"{module}.{symbol}", symbol, f"class {node.name}:\n{body}", symbol))
    return pieces


def split_python(source: str, module: str) -> list[Piece]:
    """Pieces of Python source: the module docstring, each top-level symbol, other top-level code."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return split_text(source, module)
    lines = source.splitlines()
    pieces: list[Piece] = []
    doc = ast.get_docstring(tree)
    if doc:
        pieces.append(Piece(module, module, doc.strip()))
    loose: list[Block] = []
    for idx, node in enumerate(tree.body):
        if idx == 0 and doc and isinstance(node, ast.Expr):
            continue
        text = "\n".join(lines[_node_start(node) - 1:node.end_lineno])
        if isinstance(node, ast.ClassDef) and len(text) > 2 * CAP:
            pieces.extend(_class_pieces(node, lines, module))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            pieces.append(Piece(f"{module}.{node.name}", node.name, text, node.name))
        elif text.strip():
            loose.append(Block(text, whole=True))
    merged = pack(loose, overlap=0)
    pieces.extend(Piece(f"{module} (module code)", "module code", t) for t in merged)
    return pieces
