"""The corpus must be true to the code: tutorials run as written and CLI examples parse.

* Every ```python block of ``corpus/tutorials/*.md`` (except ```python no-run) runs, in
  page order, in one fresh subprocess per page whose working directory is an empty temporary
  folder. A failing block fails the test with its source, its line and the traceback.
  Tutorials may write only under ``runs/``.
* Every ``python -m rlcore ...`` command in a ```bash block of ``corpus/docs/*.md`` and
  ``corpus/tutorials/*.md`` parses with ``rlcore.cli.build_parser()``, and the algorithms,
  ``--set`` fields and ``--part`` keys it names exist; ``python -m copilot ...`` and
  ``python app.py ...`` commands parse with their own parsers.
* Reference tables match the code: every agent's config fields and defaults
  (``agents.md``), the ``run.json`` keys (``trainer.md``), every CLI option (``cli.md``).
* Every docs and tutorial page has one ``#`` title and ``##`` sections that name their subject.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "corpus"
TUTORIALS = sorted((CORPUS / "tutorials").glob("*.md"))
DOCS = sorted((CORPUS / "docs").glob("*.md"))
PAGE_TIMEOUT_S = 600  # generous: CI machines have 2 cores and run other tests alongside
FENCE = re.compile(r"^(`{3,}|~{3,})\s*([^`\s]*)\s*(.*?)\s*$")
FAIL_MARK = "TUTORIAL-BLOCK-FAILED"
SHELL_VAR = re.compile(r"\$\{?[A-Za-z_]\w*\}?")


@dataclass(frozen=True)
class Block:
    """One fenced code block: its language, extra info words, source and first line number."""

    lang: str
    info: str
    source: str
    line: int


def code_blocks(text: str) -> list[Block]:
    """Fenced code blocks of a markdown text, in order (unterminated fences are an error)."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or lines[i].startswith((" " * 4, "\t")):
            i += 1
            continue
        fence, lang, info = m.group(1), m.group(2).lower(), m.group(3).lower()
        body, j = [], i + 1
        while j < len(lines) and not (lines[j].strip().startswith(fence[0] * len(fence))
                                      and lines[j].strip().strip(fence[0]) == ""):
            body.append(lines[j])
            j += 1
        if j == len(lines):
            raise ValueError(f"unterminated code fence opened at line {i + 1}")
        blocks.append(Block(lang, info, "\n".join(body) + "\n", i + 2))
        i = j + 1
    return blocks


def runnable(blocks: list[Block]) -> list[Block]:
    """The ```python blocks that the tutorial test executes."""
    return [b for b in blocks if b.lang == "python" and "no-run" not in b.info.split()]


DRIVER = textwrap.dedent('''
    import json, linecache, sys, traceback
    import torch
    torch.set_num_threads(1)
    blocks = json.loads(open(sys.argv[1], encoding="utf-8").read())
    namespace = {"__name__": "__main__"}
    for i, block in enumerate(blocks):
        name = f"<{block['page']} block {i + 1}, line {block['line']}>"
        linecache.cache[name] = (len(block["source"]), None, block["source"].splitlines(True), name)
        try:
            exec(compile(block["source"], name, "exec"), namespace)
        except BaseException:
            sys.stdout.flush()
            print(f"%s {i}", file=sys.stderr)
            traceback.print_exc()
            sys.exit(1)
''' % FAIL_MARK)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
               MPLBACKEND="Agg", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", RLCORE_THREADS="1",
               PYTHONUNBUFFERED="1")
    return env


def _failure_message(page: Path, blocks: list[Block], proc: subprocess.CompletedProcess) -> str:
    err = proc.stderr
    found = re.search(rf"{FAIL_MARK} (\d+)", err)
    where = "before any block ran"
    if found:
        block = blocks[int(found.group(1))]
        where = f"in block {int(found.group(1)) + 1} (line {block.line}):\n{block.source}"
        err = err[found.end():]
    return (f"{page.name} failed {where}\n--- stderr (tail) ---\n{err[-4000:]}"
            f"\n--- stdout (tail) ---\n{proc.stdout[-1500:]}")


@pytest.mark.slow
@pytest.mark.parametrize("page", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs_as_written(page: Path, tmp_path: Path) -> None:
    blocks = runnable(code_blocks(page.read_text(encoding="utf-8")))
    assert blocks, f"{page.name} has no runnable ```python block"
    payload = tmp_path / "blocks.json"
    payload.write_text(json.dumps([{"page": page.name, "line": b.line, "source": b.source}
                                   for b in blocks]), encoding="utf-8")
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    try:
        proc = subprocess.run([sys.executable, str(driver), str(payload)], cwd=work, env=_env(),
                              capture_output=True, text=True, timeout=PAGE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{page.name} did not finish within {PAGE_TIMEOUT_S} s")
    assert proc.returncode == 0, _failure_message(page, blocks, proc)
    stray = sorted(p.name for p in work.iterdir() if p.name != "runs")
    assert not stray, f"{page.name} wrote outside runs/: {stray}"


# ----- CLI commands shown in bash blocks ------------------------------------------------------

def _shell_commands(line: str) -> list[list[str]]:
    """The words of each command in a shell line, split at ``;``, ``&&``, ``||`` and ``|``
    outside quotes."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split, lexer.commenters = True, "#"
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token and set(token) <= set(";&|"):
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def _commands(text: str, module: str = "rlcore") -> list[tuple[int, list[str]]]:
    """(line, argv after ``python -m <module>``) for every such command in ```bash blocks.

    ``module="app.py"`` finds ``python app.py ...`` commands instead.
    """
    found = []
    for block in code_blocks(text):
        if block.lang not in ("bash", "sh", "shell", "console"):
            continue
        logical = block.source.replace("\\\n", " ").splitlines()
        for offset, line in enumerate(logical):
            line = SHELL_VAR.sub("0", line.strip().removeprefix("$ "))  # $seed -> 0
            for words in _shell_commands(line):
                prefix = [module] if module.endswith(".py") else ["-m", module]
                for k in range(len(words) - len(prefix)):
                    if words[k].endswith(("python", "python3")) and words[k + 1:k + 1 + len(prefix)] == prefix:
                        found.append((block.line + offset, words[k + 1 + len(prefix):]))
    return found


REGISTERED_IN_PAGE = re.compile(r"@register\(\s*[\"'](\w+)[\"']\s*,\s*[\"']([\w.-]+)[\"']")


def _check_names(args, page_keys: set[tuple[str, str]]) -> None:
    """The algorithm, --set fields and --part keys a parsed command names exist.

    Keys the page itself registers with ``@register(kind, key)`` count as existing.
    """
    from rlcore import registry

    algos = getattr(args, "algo", None) or getattr(args, "config", None)
    for algo in (algos.split(",") if algos else []):  # sweep takes a comma-separated list
        cls = registry.get("agents", algo)
        fields = {f.name for f in dataclasses.fields(cls.Config)}
        for item in getattr(args, "sets", None) or []:
            name = item.partition("=")[0]
            assert name in fields, f"--set {item}: {algo} has no config field {name!r}"
    for item in getattr(args, "parts", None) or []:
        role, _, key = item.partition("=")
        assert role in registry.ROLES, f"--part {item}: unknown role {role!r}"
        if (registry.ROLES[role], key) not in page_keys:
            registry.get(registry.ROLES[role], key)


CLI_PAGES = [p for p in DOCS + TUTORIALS if _commands(p.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("page", CLI_PAGES, ids=[f"{p.parent.name}/{p.stem}" for p in CLI_PAGES])
def test_cli_commands_in_page_are_real(page: Path) -> None:
    from rlcore.cli import build_parser

    text = page.read_text(encoding="utf-8")
    page_keys = set(REGISTERED_IN_PAGE.findall(text))
    for line, argv in _commands(text):
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:
            if exc.code == 0:  # --help
                continue
            pytest.fail(f"{page.name} line {line}: `python -m rlcore {shlex.join(argv)}` does not parse")
        try:
            _check_names(args, page_keys)
        except (AssertionError, ValueError) as exc:
            pytest.fail(f"{page.name} line {line}: `python -m rlcore {shlex.join(argv)}`: {exc}")


def _parses(parse, argv: list[str]) -> bool:
    """Whether ``parse(argv)`` (an argparse-based parse function) accepts ``argv``."""
    try:
        parse(argv)
    except SystemExit as exc:
        return exc.code == 0
    return True


def test_copilot_commands_in_docs_are_real() -> None:
    import importlib.util

    from copilot.__main__ import build_parser as copilot_parser

    spec = importlib.util.spec_from_file_location("rl_copilot_app", REPO / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    checked = 0
    for page in DOCS + TUTORIALS:
        text = page.read_text(encoding="utf-8")
        for line, argv in _commands(text, "copilot"):
            assert _parses(copilot_parser().parse_args, argv), \
                f"{page.name} line {line}: `python -m copilot {shlex.join(argv)}` does not parse"
            checked += 1
        for line, argv in _commands(text, "app.py"):
            assert _parses(app.parse_args, argv), f"{page.name} line {line}: `python app.py {shlex.join(argv)}` does not parse"
            checked += 1
    assert checked >= 10, f"only {checked} copilot/app.py commands found in the docs"


def test_cli_docs_show_every_subcommand() -> None:
    from rlcore.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    cli_page = CORPUS / "docs" / "cli.md"
    shown = {argv[0] for _, argv in _commands(cli_page.read_text(encoding="utf-8")) if argv}
    assert set(sub.choices) <= shown, f"cli.md shows no example of {sorted(set(sub.choices) - shown)}"


# ----- reference tables match the code ----------------------------------------------------------

def _section(text: str, heading: str) -> str:
    found = re.search(rf"^## {re.escape(heading)}\s*$(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    assert found, f"no '## {heading}' section"
    return found.group(1)


def test_agents_doc_lists_every_config_field_with_its_default() -> None:
    from rlcore import registry
    from rlcore.config import config_fields

    text = (CORPUS / "docs" / "agents.md").read_text(encoding="utf-8")
    for algo in registry.keys("agents"):
        rows = re.findall(r"^\| `(\w+)` \| (\w+) \| `([^`]*)` \|",
                          _section(text, f"{algo.upper()} config fields"), flags=re.M)
        documented = {name: (kind, default) for name, kind, default in rows}
        fields = config_fields(registry.get("agents", algo).Config)
        actual = {name: (info["type"], repr(info["default"])) for name, info in fields.items()}
        assert documented == actual, f"agents.md '{algo.upper()} config fields' differs from the code"


def test_trainer_doc_explains_every_run_json_key() -> None:
    from rlcore.trainer import RUN_KEYS

    text = (CORPUS / "docs" / "trainer.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \|", _section(text, "run.json manifest keys"), flags=re.M)
    assert tuple(rows) == RUN_KEYS


def test_cli_doc_mentions_every_option() -> None:
    from rlcore.cli import build_parser

    text = (CORPUS / "docs" / "cli.md").read_text(encoding="utf-8")
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    missing = [f"{name} {opt}" for name, parser in sub.choices.items() for action in parser._actions
               for opt in action.option_strings if opt.startswith("--") and opt != "--help" and opt not in text]
    assert not missing, f"cli.md does not mention: {missing}"


# ----- structure ------------------------------------------------------------------------------

def test_corpus_has_docs_and_enough_tutorials() -> None:
    assert len(TUTORIALS) >= 12
    names = {p.stem for p in DOCS}
    wanted = {"envs", "encoders", "policies", "distributions", "storages", "agents", "trainer",
              "cli", "evaluation", "registry", "copilot"}
    assert wanted <= names, f"missing docs pages: {sorted(wanted - names)}"


@pytest.mark.parametrize("page", DOCS + TUTORIALS, ids=[f"{p.parent.name}/{p.stem}" for p in DOCS + TUTORIALS])
def test_page_has_one_title_and_named_sections(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    outside = re.sub(r"^(`{3,}).*?^\1\s*$", "", text, flags=re.S | re.M)
    titles = re.findall(r"^# \S.*$", outside, flags=re.M)
    assert len(titles) == 1, f"{page.name} has {len(titles)} '#' titles"
    assert text.lstrip().startswith("# "), f"{page.name} does not start with its '#' title"
    sections = re.findall(r"^## (.+)$", outside, flags=re.M)
    assert sections, f"{page.name} has no '##' sections"
    vague = {"config", "usage", "example", "examples", "overview", "notes", "details", "api"}
    bad = [s for s in sections if s.strip().lower() in vague]
    assert not bad, f"{page.name}: sections {bad} do not name their subject"


def test_no_sentence_is_cut_by_a_line_that_reads_as_a_list_item() -> None:
    """A wrapped sentence whose next line starts with "1. " reads as a numbered list (in
    Markdown, and so in the copilot's evidence): "... scores about" would be quoted without its
    number. A numbered item follows a blank line or another item."""
    bad = []
    for page in sorted(CORPUS.rglob("*.md")):
        lines = re.sub(r"^(`{3,}).*?^\1\s*$", "", page.read_text(encoding="utf-8"), flags=re.S | re.M).splitlines()
        for before, line in zip(lines, lines[1:]):
            if (re.match(r"\d+[.)] ", line) and before.strip() and not re.match(r"\s*(?:\d+[.)]|[-*+]) ", before)
                    and not before.rstrip().endswith(":") and not before.startswith(("#", "|", " "))):
                bad.append(f"{page.relative_to(CORPUS)}: {before.strip()[-40:]!r} / {line[:30]!r}")
    assert not bad, "lines that cut a sentence into a list item: " + "; ".join(bad)


def test_code_block_parser_finds_blocks_and_no_run() -> None:
    text = textwrap.dedent("""\
        # T
        ```python
        a = 1
        ```
        text
        ```python no-run
        b = 2
        ```
        ```bash
        python -m rlcore list   # comment
        python -m rlcore train ppo CartPole-v1 \\
            --steps 10
        ```
        """)
    blocks = code_blocks(text)
    assert [(b.lang, b.info, b.line) for b in blocks] == [("python", "", 3), ("python", "no-run", 7),
                                                          ("bash", "", 10)]
    assert [b.source for b in runnable(blocks)] == ["a = 1\n"]
    assert [argv for _, argv in _commands(text)] == [["list"], ["train", "ppo", "CartPole-v1", "--steps", "10"]]
