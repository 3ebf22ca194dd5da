"""Evidence selection: the sentences of the retrieved chunks that answer the question.

A small local model answers best from a short prompt that holds exactly the relevant facts.
Whole chunks waste the source budget on introductions, so the prompt is built from
*units* (sentences, list items, short code blocks) of the retrieved chunks instead:

1. split every retrieved chunk into units, keeping their order;
2. score each unit by embedding similarity to the question plus a lexical bonus for the
   question's rarer words (weighted by how few units contain them), with a small prior
   for the chunk's retrieval rank;
3. take units by score until the token budget is spent, then print each source's chosen
   units in their original order, best source first.

Everything is deterministic for a given index and question.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from copilot.bm25 import stem, tokenize

CODE_BLOCK = re.compile(r"```.*?```", re.S)
# a sentence ends at . ! ? before a capital, a literal or a bracket, but not after "e.g." and the like
NOT_ABBREVIATION = r"(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bvs\.)(?<!\bcf\.)(?<!\betc\.)(?<!\bal\.)"  # "et al."
NOT_INITIAL = r"(?!(?<=\b[A-Z]\.\s)[A-Z][a-z]+[,.])"  # a name's initial: "Marc G. Bellemare, ..."
SENTENCE_END = re.compile(r"(?<=[.!?])" + NOT_ABBREVIATION + r"\s+(?=[A-Z`(\[*])" + NOT_INITIAL)
DESCRIBES = frozenset({"description", "meaning", "what it does", "purpose", "notes", "note", "use", ""})
TABLE_RULE = re.compile(r"^\|[\s:|-]*$")
LIST_ITEM = re.compile(r"\n(?=\s*(?:[-*+]|\d+[.)])\s)")
LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
MAX_LIST_WORDS = 70  # an intro and its list items become one unit up to this many item words
MAX_CODE_CHARS = 600
# a unit that starts mid-sentence, where an overlapping chunk window begins: a lower-case
# word that is not a name ("rlcore", `rlcore.cli`, "n-step", "k-NN")
FRAGMENT = re.compile(r"^(?!rlcore\b)[a-z]+(?![\w.'-])")
CODE_RANK = 2  # a "how do I" answer shows a source's example when it is among the best units
CODE_COSINE = 0.25  # ... and within this of the closest unit's similarity to the question (measured: 0.1 hid
# the example of "write my own env and train on it", whose first sentence is close to any env question)
TITLE_WEIGHT = 0.3
LABEL_WORDS = 5  # "case: a short choice." labels a list item's case (see _labelled)
ANSWER_WORDS = 8  # a section's opening sentence shorter than this leads in to the answer rather than giving it
# units that are not statements an answer can quote: a reference (authors, "Title"), a line
# that introduces what follows ("...:"), an API signature line
REFERENCE = re.compile(r'^([A-Z][\w.\'-]*\.? ?)+(, [A-Z][\w.\' -]+)+\. ["“]|^[\w ,.-]{0,80}\. ["“][^"”]+["”]\.?$')
# "Tuomas Haarnoja, Aurick Zhou, ...": an author list, a citation
AUTHORS = re.compile(r"(?:\b[A-Z][a-z]+(?: [A-Z]\.)? [A-Z][a-z'-]+, ){3}")
SIGNATURE = re.compile(r"^(\S+) \((?:function|class|config dataclass|method|property|module)\) ")
# a sentence about the page itself ("This tutorial trains ..."), which answers nothing
META = re.compile(r"^(?:this|the) (?:tutorial|page|note|section|guide|chapter|example)\b", re.I)
# a docstring line that points elsewhere instead of saying something
INLINE_CODE = re.compile(r"``?[^`]+``?")
XREF = re.compile(r"\bsee\s*:(?:mod|func|class|meth|attr):|\bsee the (?:module|class|function)'?s? docstring|"
                  r"^see (?:the )?[\w`.-]+ (?:page|section|tutorial|docs?|guide)\b", re.I)  # a pointer, not a statement
STOP = frozenset("a an and are as at be been being by can could do does for from has have how i if in into "
                 "is it its of on or so some any such than that the then there these this those to was were "
                 "what when which while why will with would you your my me we our also just very really "
                 "actually quite".split())
# words that frame a question rather than name its topic ("the role of X", "what does X mean"),
# and "rlcore", which every source is about
FRAME = frozenset("role purpose mean means meaning difference between work works happen change changes "
                  "use used using rlcore".split())
DEFINITION_QUESTION = re.compile(
    r"^\s*(what\s+(is|are|was|does|do)\b|what's\b|define\b|explain\b|why\b|"
    r"how\s+(?:does|is|are)\s+(?!(?:i|we|you|it|this|that|they)\b))|什么是|是什么|什么作用|的作用|指什么|为什么",
    re.I)
DEFINES = re.compile(r"\b(is|are|means|refers to|measures|computes|stores|controls|bounds|estimates|"
                     r"learns|returns|adds|uses|keeps|rewards|combines|replaces|trades|sets|decides|"
                     r"makes|gives|pays|predicts|changes)\b")
HOW_TO = re.compile(r"\bhow (do|can|should) (i|we|you)\b|\bhow to\b|\bexample\b|\bcode\b|\bsnippet\b|"
                    r"如何|怎么|怎样|示例|代码", re.I)
WHY_QUESTION = re.compile(r"^\s*why\b|\bwhat(?:'s| is)? caus(?:es|ing)\b|\bhow come\b|\bwhat is the (purpose|point|reason)\b|"
                          r"\bwhat problems? (does|do|did)\b.*\bsolve|\bwhy (do|does|is|are|use)\b|"
                          r"^\s*what (is|are)\b[^?]{1,80}\bfor\s*\??\s*$|为什么|为何|目的|有什么用", re.I)
REASON = re.compile(r"\b(because|since|so that|, so|otherwise|in order to|prevents?|avoids?|"
                    r"keeps?\b.{0,40}\bfrom|reduces?(?! to\b)|stabili[sz]es?|without (it|them|this)|the reason|that is why|"
                    r"to (avoid|keep|prevent|reduce|make|stop|ensure|correct|decorrelate)|ensures?|corrects?|"
                    r"would (otherwise|only|never|overestimate|diverge|chase))\b", re.I)
REASON_BONUS = 0.15  # a sentence that gives a reason, for a "why" question
# (and what a command does: "`list` prints ...", "`eval RUN_DIR` rebuilds ...")
STEPS_CODE = re.compile(r"`[^`]*(python -m |--\w|make_agent\(|make_env\(|\.set\(|register|\w\(\w*=)"
                        r"|^`[\w.-]+(?: [\w.<>\[\]-]+)*(?:\([^`]*\))?` [a-z]+s\b", re.I)
IMPERATIVE = re.compile(r"^(use|pass|set|call|run|give|add|register|install|write|start|put|subclass|"
                        r"to \w+ \w+, (call|pass|run|use))\b", re.I)
STEPS = re.compile(STEPS_CODE.pattern + "|" + IMPERATIVE.pattern, re.I)
# a question about how to tell what happened ("how do I check whether it fell back ...")
# favours a sentence naming what reports it ("`update_path` ... say which path ran")
CHECK_QUESTION = re.compile(r"\bhow (?:do|can|would|could|should) (?:i|we|you) (?:\w+ ){0,2}?"
                            r"(?:check|tell|know|see|verify|confirm|find out|figure out)\b"
                            r"|\b(?:a|any) (?:quick |simple |good )?way to (?:check|tell|know|see|verify)\b"
                            r"|怎么(?:看|知道|确认|判断|检查)|如何(?:判断|确认|查看|检查)", re.I)
REPORTS = re.compile(r"\b(?:says?|tells?|shows?|records?|reports?|prints?|logs?|lists?|marks?) "
                     r"(?:which|whether|if|what|why|how)\b", re.I)
CHECK_BONUS = 0.15  # a sentence naming what reports it, for a "how do I check whether" question
# a question whether one thing counts in another ("does time_s include the evaluations?")
# favours a sentence that says what is counted or left out ("evaluations excluded")
INCLUSION = re.compile(r"\b(?:includ|exclud|count(?:s|ed)? (?:in|towards?|as)\b|left out|leaves? out|"
                       r"(?:is|are) not counted)|包含|包括|算在|计入", re.I)
INCLUSION_BONUS = 0.15  # a sentence saying what is counted or left out, for a question whether it counts
# a question about when to do something favours a sentence that states a condition
WHEN_QUESTION = re.compile(r"^\s*when\b|\bwhen (should|do|does|to|would|is it|are)\b|\bin which cases?\b|"
                           r"什么时候|何时", re.I)
CONDITION = re.compile(r"\b(when|whenever|unless|if|only for|useful for|unnecessary|not needed|"
                       r"helps (when|with|on)|helps most|clearest|pays? off|worth it|most useful|best (for|with|on))\b",
                       re.I)
# a question that asks for a number ("the default alpha", "how many neighbours") favours a
# sentence that states one about its topic (a year or an arXiv id is no value)
DEFAULT_ASKED = re.compile(r"\bdefaults?\b|默认", re.I)  # a question asking for a default
VALUE_QUESTION = re.compile(rf"{DEFAULT_ASKED.pattern}|\bhow (many|much|big|large|long|often|high|low)\b|"
                            r"\bwhat should (?!i |we |you )(?:[\w`'-]+ ){1,3}be\b|"
                            r"\bwhat (?:\w+ )?(size|value|number|shape|dimension)s?\b|多少", re.I)
VALUE_NUMBER = re.compile(r"(?<![\w.:/-])(?!(?:19|20)\d\d\b)\d[\d,.]*(?:e-?\d+)?(?![\w.]*\d{4,}\b)")
VALUE_BONUS = 0.15
# "what's the formula for the IS weights?": a sentence that writes one out (`w_i = (N * P(i))^(-beta)`),
# which a small embedder finds far from any question in words
FORMULA_QUESTION = re.compile(r"\b(?:formulae?|formulas|equations?|math|how (?:is|are|does|do) (?!i |we |you )(?:\S+ ){1,5}(?:comput|calculat)\w*)\b",
                              re.I)
FORMULA = re.compile(r"`[^`]*\w[^`]*\s?=\s?[^`=]*[\w(][^`]*[-+*/^(][^`]*`|\$[^$]+=[^$]+\$")
FORMULA_BONUS = 0.15
VALUE_WORDS = frozenset(stem(w) for w in "default defaults value size number many much".split())  # as matched
STEPS_BONUS = 0.1  # a sentence that says what to call or type, for a "how do I" question
CONDITION_BONUS = 0.1  # a sentence that states a condition, for a "when should I" question
# a sentence that advises when to do something: a condition with a choice ("turn it on when
# ...", "use it where ..."); "when training starts the agent wraps ..." is a condition only
ADVICE = re.compile(r"\b(?:use|using|turn (?:it|them) on|worth|helps?|pick|prefer|choose|needs?|unnecessary|"
                    r"useful|recommended|should|pays? off|suits?|best|benefits?|clearest)\b", re.I)


IS_A = re.compile(r"(\S+) (?:is|are|means|refers to) (?:a|an|the)\b")
DEFINITION_BONUS = 0.15  # a sentence that opens with the question's topic and says what it is/does
PENALTY = 0.15  # code, unless the question asks how to do something
NOT_STATEMENT = 0.25  # a unit that cannot stand as a statement (an intro line, a signature)
ACRONYM = re.compile(r"((?:[A-Za-z][\w-]*\s+){1,6})\(([A-Z][A-Za-z0-9]{1,5})\)")
IDENTIFIER = re.compile(r"\b[A-Za-z]\w*_\w+\b")  # a config field or function name: n_steps
IDENTIFIER_BONUS = 0.15  # a unit naming the identifier the question asks about
# the function a user reports turning their input down: "make_agent refuses it", "`make_env()` raises ..."
REFUSER = re.compile(r"\b([A-Za-z]\w*_\w+)`?(?:\([^()]*\))?`?\s+(?:refus|reject|rais|throw|fail|error|crash|complain)", re.I)
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*(?![\w-])")  # a command-line flag: --evals
# "which config field / flag / command ...?" asks for a name: a sentence that gives one in code
NAME_QUESTION = re.compile(r"\b(?:which|what)\s+(?:\w+\s+){0,2}?(?:field|flag|option|setting|parameter|argument|"
                           r"command|key|function|class|method|wrapper)s?\b", re.I)
NAME_BONUS = 0.1
# a named term: an acronym (RLHF, TD3, A2C), a mixed-case name (AlphaZero, DrQ-v2), a lower-case
# name with a digit (re3) or an identifier (n_steps)
NAMED_TERM = re.compile(r"(?<![A-Za-z0-9_.-])(?:[A-Z][A-Za-z0-9]*[A-Z0-9][A-Za-z0-9_-]*|[a-z]+\d[A-Za-z0-9_-]*|"
                        r"[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+)"
                        r"(?![A-Za-z0-9_-])")  # ASCII classes: a CJK character is not part of a term
GENERIC_ENTITIES = frozenset("rl i ai api cli ui faq gpu cpu json csv onnx mlp cnn kl iqm ci os md id url "
                             "mdp td tv ram ok relu elu gelu tanh lstm gru rnn adam sgd rmsprop "
                             "kb mb gb tb ms fps "  # units of measure ("36 MB")
                             # environment suites: where a method runs, not another method
                             "ale atari mujoco minigrid minihack procgen dmc".split())
# a unit that names another method (PPG, Double DQN) but not the question's, nor does its
# title: "n_epochs" from PPG's page is not an answer about PPO's
ENTITY_PENALTY = 0.2
ROW_KEYS = re.compile(r"^`[a-z][a-z0-9_]*`(?:, `[a-z][a-z0-9_]*`)*:")  # "`ppo`, `a2c`: ..." (table_row)
# a term the user puts in quotes: "I'll run into 'primacy bias'. what is that?" (not the "'" of "SAC's")
QUOTED_TERM = re.compile(r"(?<!\w)['\"“‘]([^'\"”’\n]{3,40}?)['\"”’](?!\w)")
CARRIED_WEIGHT = 0.5  # the weight of a word a later part carries over from the first part's topic
INHERITED = 0.5  # the weight of a name the question gives that a unit's title holds and the unit does not
METHOD = re.compile(r"(?<![\w-])[A-Z][A-Za-z]?[A-Z0-9][A-Za-z0-9]{0,5}(?:-v\d)?(?![\w-])")
# a sentence that opens with a pronoun speaks of its section's heading ("It adds ent_coef * H")
PRONOUN = re.compile(r"^(it|this|they|these|both)\b", re.I)
# a unit's word -> the question word it also answers to: rlcore's docs say "agent" for an
# algorithm and spell out what users abbreviate ("obs normalization", "my env")
# (and the Arcade Learning Environment, ALE, runs the Atari games; a run that crashed failed)
ALIASES = {stem(w): short for w, short in (("agent", "algorithm"), ("observation", "obs"), ("environment", "env"),
                                           ("atari", "ale"), ("fail", "crash"), ("refuse", "reject"))}
LATER_COSINE = 0.45  # a unit at least this close to a question's later part may answer it
ROW_PIECE_WORDS = 25  # a long table row is quoted in pieces of about this many words
ROW_MIN_WORDS = 5  # ... and none shorter than this, which alone would say too little
LONG_WORDS = 40  # words past this cost a unit 0.004 each (at most 0.2): it would crowd the budget


@dataclass
class Unit:
    source: int  # index of the hit it came from
    order: int  # position within that hit
    text: str
    score: float = 0.0
    lexical: float = 0.0  # share of the question's rare words in the unit itself
    cosine: float = 0.0  # its own embedding similarity to the question (its score may read it with its heading)
    elsewhere: bool = False  # speaks of another method than the one the question names
    answers: str = ""  # the question heading of the section this unit opens


def split_units(text: str) -> list[str]:
    """Sentences, list items and whole code blocks of ``text``, in order."""
    units: list[str] = []
    pos = 0
    for m in CODE_BLOCK.finditer(text):
        units.extend(_prose_units(text[pos:m.start()]))
        code = m.group(0)
        if len(code) > MAX_CODE_CHARS:  # keep the head of a long block, still fenced
            code = code[:MAX_CODE_CHARS].rsplit("\n", 1)[0] + "\n...\n```"
        if units and units[-1].endswith(":") and not has_code(units[-1]) and len(units[-1].split()) >= 5:
            units[-1] += "\n" + code  # "To resume, ... call `train`:" and the code it introduces
        else:
            units.append(code)
        pos = m.end()
    units.extend(_prose_units(text[pos:]))
    return units


def _prose_units(text: str) -> list[str]:
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        rows = [line.strip() for line in para.splitlines() if line.strip()]
        if len(rows) >= 2 and all(row.startswith("|") for row in rows):
            # a table: each data row is a unit (a config field and its meaning, say)
            header = _cells(rows[0])
            for row in rows[1:]:
                if not TABLE_RULE.match(row):
                    out.extend(table_units(header, _cells(row)))
            continue
        items = LIST_ITEM.split(para)
        sentences = [[s.strip() for s in SENTENCE_END.split(" ".join(item.split())) if len(s.strip(" -*#>|")) > 2]
                     for item in items]
        if _introduces_list(sentences):  # "It combines:" + its items stay one statement
            out.extend(sentences[0][:-1])
            out.append(sentences[0][-1] + " " + "; ".join(LIST_MARKER.sub("", " ".join(item)).rstrip(",;.")
                                                         for item in sentences[1:]) + ".")
            continue
        for item in sentences:
            out.extend(_labelled(item))
    return out


def _labelled(item: list[str]) -> list[str]:
    """A list item's sentences; one that only labels a case with a short choice ("- Environment
    changes every episode (...): an episodic bonus.") stays with the sentence that names the
    choice, which alone would lose its condition ("E3B ... is the strongest simple choice")."""
    if len(item) >= 2 and LIST_MARKER.match(item[0]) and ":" in item[0]:
        label, _, choice = item[0].rpartition(":")
        if label.strip(" -*") and 0 < len(choice.split()) <= LABEL_WORDS and not has_code(choice):
            return [f"{item[0]} {item[1]}", *item[2:]]
    return item


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def table_row(header: list[str], cells: list[str]) -> str:
    """A table row as a sentence that names its columns, which embeds and reads like prose:
    ``| `n_steps` | int | `128` | Steps per env. |`` under ``field | type | default | meaning``
    becomes "`n_steps`: type int, default `128`; Steps per env." (a description column, or
    the last one, is left unnamed)."""
    if not cells or not cells[0]:
        return " ".join(cells)
    return _row_text(cells[0], _row_parts(header, cells))


def _row_parts(header: list[str], cells: list[str], name_last: bool = False) -> list[str]:
    parts = []
    for i, (name, cell) in enumerate(zip(header[1:], cells[1:]), 1):
        if not cell:
            continue
        plain = name.lower() in DESCRIBES or not name_last and i == len(header) - 1 and len(cell.split()) > 3
        parts.append(cell if plain else f"{name.lower()} {cell}".strip())
    return parts


def _row_text(key: str, parts: list[str]) -> str:
    body = ", ".join(p for p in parts if not p.endswith("."))
    tail = "; ".join(p for p in parts if p.endswith("."))
    text = f"{key}: {body}" + (f"; {tail}" if body and tail else tail)
    return text if text.endswith(".") else text + "."


def table_units(header: list[str], cells: list[str]) -> list[str]:
    """A row as one unit, or, when it would crowd the evidence budget (more than
    :data:`LONG_WORDS` words), as several that each name the row's key: its columns, and a
    long cell's "; " clauses, packed in order up to :data:`ROW_PIECE_WORDS` words each (a
    piece shorter than :data:`ROW_MIN_WORDS` goes with the next), every column named. A
    question about the last column of a long row ("how wide is `drq_cnn`'s output?") then
    gets that column without the rest."""
    whole = table_row(header, cells)
    if len(whole.split()) <= LONG_WORDS:
        return [whole]
    pieces = [clause for part in _row_parts(header, cells, name_last=True)
              for clause in (part.split("; ") if len(part.split()) > ROW_PIECE_WORDS else [part])]
    groups: list[list[str]] = []
    for piece in pieces:
        held = sum(len(p.split()) for p in groups[-1]) if groups else 0
        if groups and (held < ROW_MIN_WORDS or held + len(piece.split()) <= ROW_PIECE_WORDS):
            groups[-1].append(piece)
        else:
            groups.append([piece])
    return [_row_text(cells[0], group) for group in groups]


def _introduces_list(sentences: list[list[str]]) -> bool:
    """A paragraph whose first item ends with a sentence introducing the items that follow
    ("Rainbow combines:"), short enough to quote whole; not a list of config fields."""
    items = sentences[1:]
    if len(items) < 2 or not sentences[0] or not sentences[0][-1].endswith(":"):
        return False
    return (all(len(item) == 1 and len(item[0].split()) <= 16 and "default" not in item[0] for item in items)
            and sum(len(i[0].split()) for i in items) <= MAX_LIST_WORDS)


def _content_tokens(text: str) -> set[str]:
    return {t for t in tokenize(text, stemmed=True) if t not in STOP and len(t) > 1}


def spelled_acronyms(text: str) -> Iterator[tuple[str, str]]:
    """(acronym, long form as written) for each acronym ``text`` spells out, "Prioritized
    Experience Replay (PER)", whose long form's initials spell it."""
    for m in ACRONYM.finditer(text):
        words, short = re.split(r"[\s-]+", m.group(1).strip()), m.group(2)
        if len(words) >= len(short) and "".join(w[0] for w in words[-len(short):]).upper() == short.upper():
            yield short, " ".join(words[-len(short):])


def acronyms(text: str, tokens: Callable[[str], set[str]] = _content_tokens) -> dict[str, set[str]]:
    """Acronyms that ``text`` spells out: the acronym's token -> the ``tokens`` of its long form."""
    return {short.lower(): tokens(long) for short, long in spelled_acronyms(text)}


def both_forms(text: str, asked: dict[str, str]) -> str:
    """``text`` with the form of each acronym that the question uses (``asked``: acronym ->
    long form, or long form -> acronym) added where the text has only the other: "PER
    samples ..." is embedded as "PER (Prioritized Experience Replay) samples ...", which the
    embedder finds close to a question about prioritized experience replay; it did not know
    "PER" (cosine 0.23 against 0.62)."""
    for written, used in asked.items():
        has = re.search(rf"(?<![\w-]){re.escape(written)}(?![\w-])", text, re.I)
        if has and not re.search(re.escape(used), text, re.I):
            text = f"{text[:has.end()]} ({used}){text[has.end():]}"
    return text


def spelled_out(tokens: set[str], names: dict[str, set[str]]) -> set[str]:
    """``tokens`` with the long form of every acronym among them and the acronym of every long
    form they hold, so that "PER samples" meets a question about prioritized experience
    replay, and "prioritized experience replay samples" a question about PER."""
    extra = set().union(*(names[t] for t in tokens if t in names)) if names else set()
    short = {t for t, long in names.items() if long and long <= tokens}
    return tokens | extra | short


def as_acronyms(tokens: Sequence[str], names: dict[str, set[str]]) -> list[str]:
    """``tokens`` with every long form among them folded into its acronym: "what does alpha
    do in soft actor critic" has two topic words, alpha and SAC, not four in which SAC's
    three would outweigh the one the question is about (order and repeats kept for BM25)."""
    out = list(tokens)
    for short, long in names.items():
        if len(long) > 1 and long <= set(out):
            out = [t for t in out if t not in long] + [short]
    return out


_FRAME_TOKENS = frozenset(_content_tokens(" ".join(FRAME)))  # as sentence matching spells them ("purpos")
# "or what am I supposed to do?", "any ideas?", "how do I fix it?": a plea for help with the first
# part's problem, no part of its own
_HELP_TOKENS = frozenset(_content_tokens("am supposed instead idea ideas fix help way around tip tips advice "
                                         "suggestion suggestions workaround options"))


# where a question's second part begins: "what are X, and what happens if ...?", "what is X? when ..."
NEXT_PART = re.compile(r",?\s+and\s+(?=(?:what|how|when|why|which|where|does|do|is|are|can|should|will"
                       r"|once|if|after|then)\b)|[?;]\s+(?=\S)", re.I)


# "(1) how many seeds ..., and (2) the report shows ... what does that tell me?": numbered parts
FIRST_ITEM = re.compile(r"(?:^|[\s:])(?:\(1\)|1\))\s")
SECOND_ITEM = re.compile(r"[,;.]?\s+(?:and\s+)?(?:\(2\)|2\))\s+(?=\S)")


def _next_part(question: str) -> re.Match | None:
    """Where ``question``'s second part begins; None when it asks one thing. A "?" in a code span
    or a shell's ``$?`` ("..., echo $? prints 2. what did i do wrong") begins nothing; a part
    numbered "(2)" or "2)" after one numbered "(1)" or "1)" begins there."""
    found = next((m for m in NEXT_PART.finditer(question)
                  if not ((before := question[:m.start() + 1]).count("`") % 2 or before.endswith("$?"))), None)
    item = SECOND_ITEM.search(question)
    if item and FIRST_ITEM.search(question[:item.start()]) and (found is None or item.start() < found.start()):
        return item
    return found


def first_part(question: str) -> str:
    """The first of the questions ``question`` asks ("what are rlcore's fused update kernels"
    of "..., and what happens if my run uses CUDA?"); the whole question when it asks one."""
    m = _next_part(question)
    return question[:m.start()] if m else question


REFERS = re.compile(r"\b(?:it|its|they|them|their|this|these|those)\b", re.I)  # back to the first part
HEADED = re.compile(r"^\s*([^:?.!]{3,80}?):\s")  # "two things about the PPG agent: ..."
# a part that asks with one word of its own ("whats the downside?", "and the catch?" does not)
ASKING = frozenset("should would could can want wants actually really one ones".split())  # frame, not topic
ASKS = re.compile(r"(?:and\s+|but\s+|so\s+)?(?:what(?:'?s)?|which|how|why|when|where)\b", re.I)


# names users give what the docs call by a plain word
SAID_AS = {"ram": ("memory",), "vram": ("gpu memory",), "oom": ("out of memory", "memory"), "blank": ("empty",)}


# an acronym joined to a plain word names the acronym's thing: "OOM-killed", "GPU-bound"
MODIFIED = re.compile(r"^([A-Z][A-Z0-9]+)-[a-z]+$")


def said_as(term: str, text: str) -> bool:
    """Whether lower-case ``text`` has the docs' word for ``term`` ("memory grows" for "RAM
    keeps growing", and for "got OOM-killed")."""
    if m := MODIFIED.match(term):
        term = m.group(1)
    return any(re.search(rf"(?<![a-z0-9]){word}", text) for word in SAID_AS.get(term.lower(), ()))


def in_docs_words(query: str) -> str:
    """``query`` with the docs' word after each term they write otherwise, for searching:
    "what's eating my RAM" finds "Memory grows with ..." (see :data:`SAID_AS`)."""
    def add(m: re.Match) -> str:
        word = m.group(0)
        acronym = MODIFIED.match(word)
        said = SAID_AS.get((acronym.group(1) if acronym else word).lower())
        return f"{word} ({', '.join(said)})" if said else word
    return re.sub(r"(?<![\w-])[A-Za-z][A-Za-z0-9]*(?:-[a-z]+)?(?![\w-])", add, query)


def later_part(question: str) -> str:
    """What ``question`` asks after its first part, read with the first part's topic words when
    it refers back to them or names nothing the first part does not ("how do I switch them on
    for rlcore's DQN? (n-step returns)"); "" for a one-part question."""
    m = _next_part(question)
    rest = question[m.end():].strip() if m else ""
    if len(_content_tokens(rest)) < (1 if ASKS.match(rest) else 2) or _content_tokens(rest) <= _HELP_TOKENS:
        return ""
    # (the first part's own words: a pasted line or command names no topic to carry)
    first = unpasted(question[:m.start()])
    named = {t.lower() for t in key_terms(first) + flags(first)}
    if any(t.lower() not in named for t in key_terms(rest) + flags(rest)) and not REFERS.search(rest):
        return rest  # it names a subject of its own ("and can I combine pixels=True with frame_stack=4?")
    # a first part headed by its topic ("two things about the PPG agent: can I use squashed_gaussian
    # as its distribution? and what's eating my RAM with it?"): "it" is the heading's name
    head = HEADED.match(first)
    if (head and REFERS.search(rest) and len(QUESTION_SENTENCE.split(first.strip())) == 1
            and (heading := key_terms(head.group(1)))):
        return f"{rest} ({' '.join(heading)})"
    topic = focus_terms(first)
    topical = [w for w in re.findall(r"[\w-]+", first) if _content_tokens(w) & topic]
    if len(_content_tokens(rest)) < 2:  # "whats the downside?" is asked of the whole first part
        words = key_terms(first) + [w for w in topical if w.lower() not in ASKING][:4]
    else:
        words = key_terms(first) or topical[:4]
    # a first part that tells the user's situation before it asks ("last row of my log, sac on
    # Pendulum: ... what is alpha exactly"): what it asks about is the topic "it" refers back to
    asked = [s for s in QUESTION_SENTENCE.split(first.strip()) if s]
    if len(asked) > 1 and REFERS.search(rest):
        own = focus_terms(asked[-1]) - _FRAME_TOKENS
        words += [w for w in re.findall(r"[\w-]+", asked[-1])
                  if _content_tokens(w) & own and not re.fullmatch(r"[a-z]{3,}ly", w)][:3]  # not "exactly"
    return f"{rest} ({' '.join(dict.fromkeys(words))})" if words else rest


CARRIED = re.compile(r"\s\(([^()]*)\)$")  # the first part's topic words later_part() appends


def own_words(part: str) -> str:
    """A later part as the user asked it, without the first part's topic that
    :func:`later_part` carries over in brackets: its own identifiers are what it asks about."""
    return CARRIED.sub("", part)


def later_parts(question: str, most: int = 2) -> list[str]:
    """Every part ``question`` asks after its first, at most ``most``, each read as
    :func:`later_part` reads a second part ("Nature DQN: how long was the warm-up? how often did
    they copy the target net? and what does rlcore's dqn use ...?" asks two more); a part too short
    to ask anything stays with the rest."""
    first, rest, parts = first_part(question), question, []
    while (m := _next_part(rest)) is not None:
        rest = re.sub(r"^and\s+", "", rest[m.end():], flags=re.I)
        end = _next_part(rest)  # where this part ends, its question mark kept
        read = later_part(f"{first}? {rest[:end.start() + (rest[end.start()] in '?？')]}") if end else ""
        if read and len(parts) < most - 1:
            parts.append(read)
            continue
        # the last part, or one too short to ask anything: read with all that follows it
        last = later_part(f"{first}? {rest}")
        return parts + ([last] if last else [])
    return parts


# a claim the user puts forward to be confirmed: "..., right?", "I thought it decays over half the run"
CONFIRM = r"(?:right|correct|yes|true)"  # the tag that asks to have a claim confirmed
BELIEVED = r"\bi (?:thought|assumed|believed?|read|heard|figured)\b"  # a claim the user held
CLAIM_TAG = re.compile(rf"[,\s]+{CONFIRM}\s*\?+\s*$", re.I)
BELIEF = re.compile(rf"{BELIEVED}(?: that)?\s+(.+)$", re.I)
QUESTION_SENTENCE = re.compile(r"(?<=[.?!])\s+(?=\S)|\s*\n\s*")
# a premise the question builds on: "since clip_range is what clips the gradients, should I ...?",
# "`make_agent(...)` - since this subtracts the mean, won't it ...?"
PREMISE = re.compile(r"(?:^|[-\u2013\u2014,:;.!?]\s+)(?:since|given that|seeing as|as far as i know)\s+"
                     r"([^,?;]{12,}?),\s", re.I)


def claim_part(question: str) -> str:
    """The claim ``question`` asks to have confirmed, in the user's words ("the target net picks
    the argmax action and then the online net scores it" of "..., correct?"; "I thought it
    decays over half the run" gives what follows "I thought", read with the sentence before it
    when it says "it"; "since X, should I ...?" gives X); "" when it puts none forward."""
    sentences = [s for s in QUESTION_SENTENCE.split(question.strip()) if s]
    for i, sentence in enumerate(sentences):
        belief = BELIEF.search(sentence)
        if belief is None and not CLAIM_TAG.search(sentence):
            continue
        claim = CLAIM_TAG.sub("", belief.group(1) if belief else sentence).rstrip("?.! ")
        if REFERS.search(claim) and i > 0:  # "it" is the previous sentence's subject
            claim = f"{sentences[i - 1].rstrip('?.! ')}: {claim}"
        return claim if len(_content_tokens(claim)) >= 2 else ""
    premise = PREMISE.search(question)
    return premise.group(1).strip() if premise and len(_content_tokens(premise.group(1))) >= 2 else ""


# "X vs Y", "the difference between X and Y", "should I use X or Y": the two things compared
_SIDE_END = r"(?=[?,.;:()]|\s[-\u2013\u2014]\s|\s(?:for|in|on|as|when|what|whats|what's|which|if)\s|$)"
COMPARED = re.compile(r"\bdifference between (?P<a>.+?) and (?P<b>.+?)" + _SIDE_END + "|"
                      r"(?P<c>[^,.:;?()\u2013\u2014]+?)\s+(?:vs\.?|versus)\s+(?P<d>.+?)" + _SIDE_END
                      + r"|\b(?:use|pick|choose|prefer|try)\s+(?P<e>[^,.;:?]+?)\s+or\s+(?P<f>[^,.;:?]+?)" + _SIDE_END,
                      re.I)
QUALIFIER = frozenset("plain vanilla standard regular just simple basic normal original".split())
SIDE_WORDS = 4
SIDE_BONUS = 0.2  # for a compared thing's sentence: opening with it, on its own page; less for naming the other


def compared(question: str) -> tuple[str, str] | None:
    """The two things ``question`` compares ("dueling dqn", "double dqn"), each as the words that
    tell it from the other; None when it compares nothing, two things no word tells apart, or
    when it is a two-part question (its later part is answered instead: :func:`later_part`)."""
    m = COMPARED.search(question)
    if not m or later_part(question):
        return None
    a, b = (g for g in m.groups() if g is not None)
    a = re.split(r"\s[-\u2013\u2014]\s|^.*\b(?:between|is|are)\s", a)[-1]  # "... - X vs Y"
    # a compared thing is a short name: the last words before "vs", the first after it
    pair = tuple(" ".join(w for w in words if w.lower() not in QUALIFIER | STOP).strip(" `'\"")
                 for words in (a.split()[-SIDE_WORDS:], b.split()[:SIDE_WORDS]))
    # "quickest way to run PPO vs A2C": a method's name is the thing compared (but "dueling DQN" and
    # "double DQN" differ in their other words)
    pair = tuple(only[0] if len(side.split()) > 1 and len(only := METHOD.findall(side)) == 1
                 and only[0].lower() not in other.lower() else side
                 for side, other in (pair, pair[::-1]))
    return pair if all(side_words(side, other) for side, other in (pair, pair[::-1])) else None


def side_words(side: str, other: str) -> set[str]:
    """The content words of one compared thing that the other does not share."""
    return _content_tokens(side) - _content_tokens(other)


def names_side(tokens: set[str], side: str, other: str) -> bool:
    """Whether a unit's ``tokens`` speak of ``side`` (half its own words, at least one)."""
    own = side_words(side, other)
    return bool(own) and 2 * len(own & tokens) >= len(own)


SUBJECT_WORDS = 3  # a compared thing named this early in a sentence is what the sentence is about


def speaks_of(text: str, side: str, other: str) -> bool:
    """Whether sentence ``text`` is about ``side`` of a comparison: it names it in its opening
    words ("Double DQN uses the online network ..."), not in passing ("..., so the algorithm
    (DQN, Double DQN, ...) is unchanged")."""
    opening = " ".join(LIST_MARKER.sub("", text).split()[:SUBJECT_WORDS])
    if "_" not in side:  # `ngu_rnd_loss` is a logged value, not NGU
        opening = re.sub(r"`[^`]*_[^`]*`", " ", opening)
    words = [with_aliases(_content_tokens(w)) for w in opening.split()]
    first = {name: next((i for i, toks in enumerate(words) if toks & side_words(name, rest)), None)
             for name, rest in ((side, other), (other, side))}
    # the first of the two it names is its subject: "Dueling DQN keeps Double DQN's settings" is about dueling
    return (names_side(set().union(*words), side, other)
            and (first[other] is None or first[side] is not None and first[side] < first[other]))


def focus_terms(question: str) -> set[str]:
    """The content words of ``question`` that name its topic (not "role", "mean", ...)."""
    q_tokens = _content_tokens(question)
    return (q_tokens - _FRAME_TOKENS) or q_tokens


def score_units(question: str, units: list[Unit], embed: Callable[[list[str]], np.ndarray],
                query_vector: np.ndarray, n_hits: int, titles: Sequence[str] = (),
                kinds: Sequence[str] = (), opens: Sequence[bool] = (), part: str | None = None) -> None:
    """Set ``unit.score`` = cosine + lexical coverage of the question's rarer topic words + a
    source prior (its retrieval rank, and how close its title, the heading path, is to the
    question) + a bonus for a sentence that defines the topic of a what/why question, less
    a penalty for units that crowd the budget without answering (see :func:`shape`).

    A unit is embedded with an acronym in the form the question uses (:func:`both_forms`); a
    name the question gives that only the unit's heading path holds counts half (``kinds``:
    each hit's kind, so that an API docstring's summary is read as one). Only the identifiers
    of ``part`` (a later part without the topic carried over: :func:`own_words`) earn the
    identifier bonus, and the carried words weigh ``CARRIED_WEIGHT``."""
    pairs = list(spelled_acronyms(" ".join(titles) + "\n" + "\n".join(u.text for u in units)))
    names = {short.lower(): _content_tokens(long) for short, long in pairs}  # as acronyms() reads them
    spelled = dict(reversed(pairs))  # each acronym's first long form
    q_words = _content_tokens(question)
    asked: dict[str, str] = {}  # the form a unit may use -> the form the question uses
    for short, long in spelled.items():
        in_short, in_long = short.lower() in q_words, (names.get(short.lower()) or {""}) <= q_words
        if in_long and not in_short:
            asked[short] = long
        elif in_short and not in_long:
            asked[long] = short
    vectors = embed([both_forms(u.text, asked) for u in units] + list(titles))
    cosine = vectors[: len(units)] @ query_vector
    own = cosine.copy()  # each unit's own similarity, for the example and relevance checks
    # the sentence that opens a section headed by a question answers that question: it is as
    # close to the user's question as the two read together ("Why does PPO's return collapse
    # ...? Usually because each update moves the policy too far ...")
    answers = [i for i, u in enumerate(units) if u.order == 0 and u.source < len(opens)
               and opens[u.source] and titles[u.source].rstrip().endswith("?")
               and len(prose(u.text).split()) >= ANSWER_WORDS]  # "Gymnasium's `step` returns two flags." leads in
    if answers:
        for i in answers:
            units[i].answers = titles[units[i].source].rsplit(">", 1)[-1].strip()
        read = embed([f"{units[i].answers} {units[i].text}" for i in answers])
        for i, cos in zip(answers, read @ query_vector):
            cosine[i] = max(cosine[i], cos)
    title_cos = vectors[len(units):] @ query_vector if titles else np.zeros(n_hits)
    q_tokens = set(as_acronyms(focus_terms(question), names))
    heading = [_content_tokens(t.rsplit(">", 1)[-1]) for t in titles]
    # a section's own heading (not the page's title) says what each of its sentences is about
    own_heading = [with_aliases(h) if ">" in t else set() for h, t in zip(heading, titles)]
    # a section's first sentence that opens with "It" speaks of the heading: it gets its words
    unit_tokens = [with_aliases(spelled_out(_content_tokens(prose(u.text)) | (
        heading[u.source] if titles and u.order <= 1 and PRONOUN.match(u.text) else set()), names))
                   for u in units]
    # a unit with the docs' word for a term the user says otherwise has the user's term ("Empty
    # cells mean ..." answers "why are these columns blank?")
    for term in set(re.findall(r"(?<![\w-])[A-Za-z][A-Za-z0-9]*(?:-[a-z]+)?", question)):
        if (toks := _content_tokens(term) & q_tokens):
            unit_tokens = [t | toks if said_as(term, u.text.lower()) else t for t, u in zip(unit_tokens, units)]
    # a flag the question names is a rare word of its own: "--evals" is not any "eval"
    asked_flags = set(flags(question))
    if asked_flags:
        q_tokens |= asked_flags
        unit_tokens = [toks | (asked_flags & set(flags(u.text))) for toks, u in zip(unit_tokens, units)]
    entities = entity_terms(question)
    title_tokens = [with_aliases(spelled_out(_content_tokens(t), names)) for t in titles]
    sections = [t.rsplit(">", 1)[-1] if ">" in t else "" for t in titles]
    subjects = [_subject(t) for t in titles]
    df = {t: sum(t in toks for toks in unit_tokens) for t in q_tokens}
    weight = {t: math.log(1 + len(units) / (1 + df[t])) for t in q_tokens}
    if part is not None:  # the topic carried over from the first part is context, not what is asked
        in_part = with_aliases(_content_tokens(part)) | asked_flags
        weight = {t: w * (1.0 if t in in_part else CARRIED_WEIGHT) for t, w in weight.items()}
    total = sum(weight.values()) or 1.0
    why = bool(WHY_QUESTION.search(question))
    values = bool(entities and VALUE_QUESTION.search(question))
    # (not the function the user reports refusing them: "make_agent refuses it" asks why, not about make_agent)
    refusing = set(REFUSER.findall(question))
    identifiers = [n for n in IDENTIFIER.findall(question if part is None else part) if n not in refusing]
    # the named things of the question (SAC, drq_cnn), as the heading path may name them
    named = set().union(*entities, (t for t in q_tokens if t in names)) if entities or names else set()
    quoted = [q.lower() for q in QUOTED_TERM.findall(question)]
    spelled_methods = {m.lower() for m in METHOD.findall(INLINE_CODE.sub(" ", " ".join([*titles, *(u.text for u in units)])))}
    for i, (u, cos, toks) in enumerate(zip(units, cosine, unit_tokens)):
        # a sentence speaks of its section's subject: a name its heading path gives counts half; so do
        # those of the sentence before a reason ("Resampling within each task keeps ..., so ...")
        inherited = ((title_tokens[u.source] & named) | (own_heading[u.source] & q_tokens)) - toks if titles else set()
        if why and i and units[i - 1].source == u.source and REASON.search(u.text):
            inherited |= unit_tokens[i - 1] - toks
        u.lexical = sum(w if t in toks else INHERITED * w if t in inherited else 0.0
                        for t, w in weight.items()) / total
        u.cosine = float(own[i])
        prior = 0.05 * (n_hits - u.source) / max(n_hits, 1) + TITLE_WEIGHT * float(title_cos[u.source])
        # "It adds ent_coef * H ..." under "What does the entropy coefficient do?" is read with
        # its heading as the subject it speaks of
        said = (f"{titles[u.source].rsplit('>', 1)[-1].strip()} {u.text[pronoun.end():]}"
                if titles and u.order <= 1 and (pronoun := PRONOUN.match(u.text)) and not META.match(u.text)
                else u.text)  # "This tutorial ..." stays a sentence about the page
        api = u.source < len(kinds) and kinds[u.source] == "api"
        u.score = float(cos) + 0.5 * u.lexical + prior + shape(question, said, q_tokens, api, identifiers)
        title, title_toks = (titles[u.source], title_tokens[u.source]) if titles else ("", set())
        symbol = title.split(":", 1)[0]
        if api and any((n in symbol or _camel(n) in symbol) and not (n in u.text or _camel(n) in u.text)
                       for n in identifiers):
            u.score += IDENTIFIER_BONUS  # a docstring's sentences speak of its symbol (`RandomShift`)
        section, subject = (sections[u.source], subjects[u.source]) if titles else ("", "")
        if section and others_named(section, entities):
            # a section on another method ("PPG config fields") on a page whose title names the
            # asked one among others ("rlcore agents: PPO, A2C, ...") speaks of that other method
            title_toks = spelled_out(_content_tokens(section), names)
        if any(q in u.text.lower() for q in quoted):
            continue  # the very words the user put in quotes ("... run into 'primacy bias'") are on topic
        missing = sum(not mentions(e, toks | title_toks) for e in entities)
        # a table row keyed by methods' registry keys ("`sac`: ... box actions `squashed_gaussian`")
        # names those methods, as the sources spell them elsewhere
        row = ROW_KEYS.match(u.text)
        keys = re.findall(r"`(\w+)`", row.group(0)) if row else []
        keyed = " ".join(k.upper() for k in keys if k in spelled_methods)
        # naming most of what the question names (random_crop and CartPole, not PPO) is on topic
        if missing and missing >= len(entities) / 2 and others_named(f"{subject} {u.text} {keyed}", entities):
            u.score -= ENTITY_PENALTY * missing / len(entities)  # PPG's `n_epochs` for PPO's
            u.elsewhere = True
        elif (PRONOUN.match(u.text) and others_named(title, entities)
              and not any(mentions(e, title_toks) for e in entities)):
            u.elsewhere = True  # "It keeps PPO's update ..." under PPG's title speaks of PPG
        elif (values and others_named(subject, entities)
              and not any(mentions(e, _content_tokens(subject)) for e in entities)):
            # a value on another method's page is that method's, whatever it names besides:
            # "PPG's config is PPO's ... with these differences: `n_epochs`: default 1"
            u.score -= ENTITY_PENALTY
            u.elsewhere = True


FLAG_VALUE = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)[ =]([\w.,/-]+)")  # "--steps 40000", "--out=runs/a"
EXAMPLE_REACH = 3  # the units after an example that may describe it


def _number(value: str) -> str:
    """A value as a digit string, its thousands separators aside ("20,000" -> "20000")."""
    return value.replace(",", "").rstrip(".")


def about_example(question: str, units: list[Unit]) -> None:
    """Mark as about another setup (``elsewhere``) the sentences that describe a source's
    example command with a value the user gave another: after ``train ... --steps 20000
    --resume``, "`--resume` ... trains until 20,000 total steps" speaks of the docs' example,
    not of the user's ``--steps 40000``."""
    asked = {flag: _number(value) for flag, value in FLAG_VALUE.findall(question)}
    if not asked:
        return
    for i, u in enumerate(units):
        code = " ".join(CODE_BLOCK.findall(u.text))
        theirs = {_number(v) for flag, v in FLAG_VALUE.findall(code)
                  if flag in asked and _number(v) != asked[flag]}
        for after in units[i + 1:i + 1 + EXAMPLE_REACH] if theirs else ():
            if after.source != u.source or CODE_BLOCK.search(after.text):
                break
            said = {_number(m.group()) for m in VALUE_NUMBER.finditer(prose(after.text))} | {
                _number(v) for v in re.findall(r"[\w./-]+", after.text)}
            if theirs & said:
                after.elsewhere = True


def _subject(title: str) -> str:
    """What a heading path is about: its page title and its section. A list after the page
    title's colon says what the page holds, not what it is about ("Augmentations: random
    crop, ... and DrAC regularisation" is no page on DrAC)."""
    page, _, section = title.partition(">")
    head, _, rest = page.partition(":")
    return f"{head if ',' in rest else page} {section.rsplit('>', 1)[-1]}".strip()


def others_named(text: str, entities: list[set[str]]) -> bool:
    """Whether ``text`` names a method (an acronym: PPG, DQN, RND) that is none of ``entities``
    (nor the method a part asked about is named after: DrQ for ``drq_cnn``)."""
    words = set().union(*entities) if entities else set()
    parts = set().union(*(e for e in entities if any("_" in t for t in e))) if entities else set()
    return any(toks not in entities and name.lower() not in words and name.lower().split("-")[0] not in parts
               for name in METHOD.findall(INLINE_CODE.sub(" ", text))  # `RUN`, `PATH`: placeholders
               if (toks := _content_tokens(name)) and _singular(name).lower() not in GENERIC_ENTITIES)


def _singular(name: str) -> str:
    """An acronym's plural as its singular ("MLPs" -> "MLP", "GPUs" -> "GPU")."""
    return name[:-1] if re.fullmatch(r"[A-Z][A-Z0-9]+s", name) else name


def _names(terms: Sequence[str]) -> list[set[str]]:
    """The content tokens of each of ``terms`` that names something in particular (not RL, API)."""
    return [toks for t in terms if t.lower() not in GENERIC_ENTITIES and (toks := _content_tokens(t))]


def with_aliases(tokens: set[str]) -> set[str]:
    """``tokens`` with the words rlcore's docs use for what users call otherwise: an
    "algorithm" is an agent there."""
    return tokens | {ALIASES[t] for t in tokens if t in ALIASES}


def key_terms(question: str) -> list[str]:
    """The named terms of ``question`` (acronyms, mixed-case names, identifiers), in order."""
    return list(dict.fromkeys(NAMED_TERM.findall(question)))


def flags(text: str) -> list[str]:
    """The command-line flags ``text`` names, in order, lower case ("--evals")."""
    return list(dict.fromkeys(FLAG.findall(text.lower())))


def mentions(entity: set[str], tokens: set[str]) -> bool:
    """Whether ``tokens`` name ``entity``: all its tokens, or all the words of an identifier of
    two or more ("GAE's ... `lambda`" names `gae_lambda`; "epochs" alone does not name `n_epochs`)."""
    if entity <= tokens:
        return True
    words = {t for t in entity if len(t) > 2 and not any(o != t and o in t for o in entity)}
    return len(words) > 1 and len(words) < len(entity) and words <= tokens


# "that PPO variant that ...", "a version of SAC with ...": the question is about another method,
# described by what it does; the name it gives is that method's base, not its subject
VARIANT_WORDS = r"(?:variant|version|extension|successor|offshoot|cousin|derivative|spin-?off)s?"


def described_by(question: str, term: str) -> bool:
    """Whether ``question`` gives ``term`` only as the base of another method it describes."""
    t = re.escape(term)
    return re.search(rf"(?<![\w-]){t}(?:-based|-like)?\s+{VARIANT_WORDS}\b|\b{VARIANT_WORDS}\s+of\s+"
                     rf"(?:the\s+|plain\s+)?{t}(?![\w-])", question, re.I) is not None


def entity_terms(question: str) -> list[set[str]]:
    """The named things of ``question`` (SAC, TD3, n_epochs), each as its content tokens; not
    a name given only as the base of a method the question describes ("that PPO variant ...")."""
    out: list[set[str]] = []
    for toks in _names([t for t in key_terms(question) if not described_by(question, t)]):
        if toks not in out:
            out.append(toks)
    return out


# "rlcore registers RND as the intrinsic reward `rnd`": where a method lives in rlcore, which
# answers a question about rlcore, not one about the method itself
REGISTRATION = re.compile(r"^rlcore registers\b|\b(?:is|are) registered\b", re.I)
ASKS_RLCORE = re.compile(r"rlcore|regist|\bkey\b|\bname\b", re.I)


def only_where(question: str, text: str) -> bool:
    """Whether ``text`` only says where a method lives in rlcore while ``question`` asks about
    the method itself (not about rlcore, its keys, or how to do something)."""
    return bool(REGISTRATION.search(text)) and not (ASKS_RLCORE.search(question) or HOW_TO.search(question))


def shape(question: str, text: str, topic: set[str], docstring: bool = False,
          identifiers: Sequence[str] | None = None) -> float:
    """The score a unit's form earns: + ``DEFINITION_BONUS`` when a what/why question meets a
    sentence that opens with its topic and says what it is or does; + ``IDENTIFIER_BONUS``
    for a unit naming an identifier the question names; - ``PENALTY`` for code (unless the
    question asks how to do something), - ``NOT_STATEMENT`` for units that cannot stand as a
    statement; less for long units. A "why" question favours a sentence that gives a reason
    and a "how do I" question one that names what to call or type (an API
    ``docstring``'s imperative summary is no such step)."""
    if text.startswith("```"):
        return 0.0 if HOW_TO.search(question) else -PENALTY
    out = 0.0 if is_statement(text) else -NOT_STATEMENT
    if has_code(text) and not HOW_TO.search(question):
        out -= PENALTY  # a sentence with the example it introduces serves "how do I" questions
    # the identifier, or the class it names (`random_shift`, `RandomShift`)
    named = IDENTIFIER.findall(question) if identifiers is None else identifiers
    if any(name in text or _camel(name) in text for name in named):
        out += IDENTIFIER_BONUS
    if NAME_QUESTION.search(question) and INLINE_CODE.search(text):
        out += NAME_BONUS
    out -= min(0.2, 0.004 * max(0, len(prose(text).split()) - LONG_WORDS))
    if only_where(question, text):
        out -= PENALTY
    if WHY_QUESTION.search(question):
        out += REASON_BONUS if REASON.search(text) else 0.0
    elif DEFINITION_QUESTION.search(question):
        if defines(text, topic):
            out += DEFINITION_BONUS
        elif says_what(text, topic):  # "..., V-trace is the off-policy correction ..."
            out += DEFINITION_BONUS / 2
    # a docstring's summary is imperative by convention ("Add the bonuses to ..."): it says what
    # the function does, not what the user should do
    if HOW_TO.search(question) and (STEPS_CODE.search(text) or not docstring and IMPERATIVE.search(text)):
        out += STEPS_BONUS
    if INCLUSION.search(question) and INCLUSION.search(text):
        out += INCLUSION_BONUS
    if CHECK_QUESTION.search(question) and REPORTS.search(text):
        out += CHECK_BONUS
    if WHEN_QUESTION.search(question) and CONDITION.search(text):
        out += CONDITION_BONUS
    if VALUE_QUESTION.search(question) and VALUE_NUMBER.search(text) and _content_tokens(text) & topic - VALUE_WORDS:
        out += VALUE_BONUS
    if FORMULA_QUESTION.search(question) and FORMULA.search(text):
        out += FORMULA_BONUS
    return out


def _camel(identifier: str) -> str:
    """The class name a registry key names: ``random_shift`` -> ``RandomShift``."""
    return "".join(part[:1].upper() + part[1:] for part in identifier.split("_"))


def defines(text: str, topic: set[str]) -> bool:
    """Whether ``text`` opens with (most of) ``topic`` and then says what it is or does:
    "Target policy smoothing: adds ...", "The buffer size sets ..."."""
    words = INLINE_CODE.sub(lambda c: " " * len(c.group()), text)  # a verb, not `rlcore/rewards/`
    m = DEFINES.search(words[:160])
    cut = min(m.start() if m else len(text), words.find(":") if 0 < words.find(":") < 160 else len(text))
    head = _content_tokens(text[:cut])
    need = max(min(2, len(topic)), len(topic) / 2)  # two words of a longer topic, not just "IMPALA"
    # "V-trace's `lambda` is an extra knob" defines lambda, not V-trace
    owned = re.search(r"\w's\s+(`[^`]+`|\w+)", text[:cut])
    if owned and not _content_tokens(owned.group(1)) & topic:
        return False
    # the subject opens the sentence: "Terminal flags stored in the replay buffer are ..."
    # says what terminal flags are, not what the replay buffer is
    first = next((t for t in tokenize(text[:cut], stemmed=True) if t not in STOP and len(t) > 1), None)
    return (bool(topic) and cut < len(text) and len(head) <= 8 and len(head & topic) >= need
            and first in topic)


def says_what(text: str, topic: set[str]) -> bool:
    """Whether ``text`` says, anywhere, "<topic word> is/are/means a|an|the ..."."""
    return any(set(_content_tokens(m.group(1))) & topic for m in IS_A.finditer(text))


def advises(text: str) -> bool:
    """Whether ``text`` advises when to do something (a condition with a choice)."""
    return bool(CONDITION.search(text) and ADVICE.search(text))


# where the docs give a field's (or a flag's) default: "`alpha`: default 0.6", "`n_step`, `gamma`: default
# 1, 0.99", "`n_epochs`: type int, default `10`", "`--evals N` (default 4)", "(`--seeds K`, default 2)"
FIELD_DEFAULT = r"`{}(?: [A-Z][A-Z_]*)?`(?:, `\w+`)*(?::\s*|,\s*|\s+\()(?:type [^,;]+, )?default\b"


def gives_default(field_: str, text: str) -> bool:
    """Whether ``text`` gives the default of config field ``field_``, as the docs write it."""
    return bool(re.search(FIELD_DEFAULT.format(re.escape(field_)), text))


CODE_FIELD = re.compile(r"`([a-z][a-z0-9]*_[a-z0-9_]+)`")  # a config field as the docs write it: `aug_coef`


def value_of(text: str, topic: set[str], reach: int = 3) -> bool:
    """Whether ``text`` states a number within ``reach`` words of a ``topic`` word ("`alpha`:
    default 0.6", "k=10 nearest neighbours"), not one about something else beside it."""
    words = re.findall(r"[\w.,+-]+", prose(text))
    near = [i for i, w in enumerate(words) if _content_tokens(w) & topic]
    return any(VALUE_NUMBER.fullmatch(w.rstrip(".,")) and any(abs(i - j) <= reach for j in near)
               for i, w in enumerate(words))


def field_value(field_: str, text: str) -> bool:
    """Whether ``text`` states the value of config field ``field_``: its default line, or a
    number beside it ("`aug_coef` (default `0.1`)", "`k=10`")."""
    return gives_default(field_, text) or value_of(text, {field_.lower()})


def named_fields(texts: Iterable[str]) -> list[str]:
    """The config fields ``texts`` name in code whose value none of them states ("weighted by
    the config field `aug_coef`"): what "what's its default weight?" asks for."""
    texts = list(texts)
    return [f for f in dict.fromkeys(f for t in texts for f in CODE_FIELD.findall(t))
            if not any(field_value(f, t) for t in texts)]


PASTED = re.compile(r"`[^`\n]*\s[^`\n]*`")  # a code span of several words: a pasted command or log line


def unpasted(question: str) -> str:
    """``question`` without the code it pastes (a code block, a code span of several words:
    "ran `python -m rlcore sweep ... --out runs/cmp`"), whose words are no topic it asks about."""
    return PASTED.sub(" ", CODE_BLOCK.sub(" ", question))


def asked_fields(question: str, texts: Sequence[str]) -> list[str]:
    """The config fields a question asking for values names: its words whose default
    ``texts`` give ("default alpha and beta" over "`alpha`: default 0.6")."""
    if not VALUE_QUESTION.search(question):
        return []
    asked = unpasted(question)
    words = dict.fromkeys(re.findall(rf"{FLAG.pattern}|[a-z_]\w*", asked.lower()))  # in the question's order
    return [w for w in words if any(gives_default(w, t) for t in texts)]


def wanted_parts(question: str, texts: Sequence[str] = ()) -> list[Callable[[str], bool]]:
    """What ``question`` asks for besides what a thing is, each as a test a unit's text meets:
    advice on when ("... and when should I use it?"), a reason ("why ...?"), the value of
    each config field it asks about ("default alpha and beta"; ``texts``: the units')."""
    parts: list[Callable[[str], bool]] = []
    if WHEN_QUESTION.search(question):
        parts.append(advises)
    if WHY_QUESTION.search(question):
        parts.append(lambda text: bool(REASON.search(text)))
    for field_ in asked_fields(question, texts):
        parts.append(lambda text, f=field_: gives_default(f, text))
    return parts


def complete(question: str, units: list[Unit], chosen: list[Unit], cost: Callable[[str], int],
             budget: int) -> list[Unit]:
    """``chosen`` (best first) with, for each part ``question`` asks for that none of them
    gives (:func:`wanted_parts`), the best unit of a chosen source that gives it, in place
    of the weakest units (never the best two): "when would I use PPG?" is answered by the
    agent page's "Use it where ... when ..." even when its definitions fill the budget."""
    for wanted in wanted_parts(question, [u.text for u in units]):
        if any(wanted(u.text) for u in chosen):
            continue
        sources = {u.source for u in chosen}
        extra = next((u for u in sorted(units, key=lambda u: -u.score) if u.source in sources
                      and all(u is not c for c in chosen) and u.lexical > 0 and is_statement(u.text)
                      and not u.elsewhere and wanted(u.text)), None)
        if extra is None:
            continue
        kept = _room(chosen, cost(extra.text) + 1, budget, cost)
        if kept is not None:
            chosen = kept + [extra]
    if VALUE_QUESTION.search(question):
        # "what is the DrAC regulariser ..., and what's its default weight?": the value of the
        # field the best two name ("weighted by the config field `aug_coef`")
        for f in named_fields(u.text for u in chosen[:2])[:1]:
            extra = next((u for u in sorted(units, key=lambda u: -u.score) if all(u is not c for c in chosen)
                          and not u.elsewhere and is_statement(u.text) and field_value(f, u.text)), None)
            kept = _room(chosen, cost(extra.text) + 1, budget, cost) if extra is not None else None
            if kept is not None:
                chosen = kept + [extra]
    return chosen


def _room(chosen: list[Unit], need: int, budget: int, cost: Callable[[str], int],
          keep: Sequence[Unit] = (), protect: int = 2, examples: bool = True) -> list[Unit] | None:
    """``chosen`` (best first) less its weakest units, never the best ``protect``, an example
    (unless ``examples`` is False: a question that asks no "how do I"), nor those of ``keep``,
    so that ``need`` more tokens fit ``budget``; None when they cannot."""
    spare = budget - sum(cost(u.text) + 1 for u in chosen)
    kept = list(chosen)
    for weak in sorted(chosen[protect:], key=lambda u: u.score):
        if spare >= need:
            break
        # (a code block ends with its fence: an example goes whole or not at all)
        if all(weak is not k for k in keep) and not (examples and has_code(weak.text)):
            kept = [u for u in kept if u is not weak]
            spare += cost(weak.text) + 1
    return kept if spare >= need else None


def _antecedent(u: Unit, by_place: dict[tuple[int, int], Unit], asked: set[int]) -> Unit | None:
    """The prose sentence before ``u`` in its source when ``u`` opens with "It"/"This"/...:
    what its pronoun stands for ("`rlcore export --format c` writes a C header. It suits
    microcontrollers ..."). Under a heading that asks a question (sources ``asked``), the
    section's first sentences speak of the question's subject ("What does the entropy
    coefficient do?" ... "It adds ..."): none."""
    if u.order < 1 or not PRONOUN.match(u.text) or META.match(u.text) or (u.order == 1 and u.source in asked):
        return None
    prev = by_place.get((u.source, u.order - 1))
    # a sentence that ranks above ``u`` is shown before it anyway
    return (prev if prev is not None and prev.score < u.score and is_statement(prev.text)
            and not has_code(prev.text) else None)


def with_antecedents(units: list[Unit], chosen: list[Unit], cost: Callable[[str], int], budget: int,
                     asked: set[int], best: int = 3) -> list[Unit]:
    """``chosen`` with the sentence before each of its ``best`` units that opens with a pronoun,
    in place of the weakest units: a quote says what "it" is."""
    by_place = {(u.source, u.order): u for u in units}
    for u in chosen[:best]:
        prev = _antecedent(u, by_place, asked)
        if prev is None or any(prev is c for c in chosen):
            continue
        kept = _room(chosen, cost(prev.text) + 1, budget, cost, keep=[u])
        if kept is not None:
            chosen = kept + [prev]
    return chosen


# a short sentence that counts what the next sentences say: "Two flags play different roles."
COUNTED = {"two": 2, "three": 3, "four": 4}
COUNT_WORD = re.compile(r"\b(" + "|".join(COUNTED) + r")\b", re.I)


def _counted(u: Unit, by_place: dict[tuple[int, int], Unit]) -> list[Unit]:
    """The sentences that a short sentence counting them introduces, when the source goes on
    with that many prose sentences ("Two flags play different roles. `terminated_t` ... removes
    the bootstrap. Any episode end ... stops the accumulation ..."); [] otherwise."""
    words = prose(u.text).split()
    m = COUNT_WORD.search(u.text)
    if not m or len(words) >= ANSWER_WORDS or u.text.rstrip().endswith(":"):
        return []
    after = [by_place.get((u.source, u.order + i)) for i in range(1, COUNTED[m.group(1).lower()] + 1)]
    if any(a is None or has_code(a.text) or LIST_MARKER.match(a.text) for a in after):
        return []
    return after


def with_counted(units: list[Unit], chosen: list[Unit], cost: Callable[[str], int], budget: int,
                 best: int = 3, keep: Sequence[Unit] = ()) -> list[Unit]:
    """``chosen`` with the sentences that each of its ``best`` units counts ("NGU combines two
    novelty signals." and the two that name them), in place of the weakest units (never those
    of ``keep``)."""
    by_place = {(u.source, u.order): u for u in units}
    for u in list(chosen[:best]):
        after = _counted(u, by_place)
        for nxt in after:
            if any(nxt is c for c in chosen):
                continue
            kept = _room(chosen, cost(nxt.text) + 1, budget, cost, keep=[u, *after, *keep])
            if kept is None:
                break
            chosen = kept + [nxt]
    return chosen


def select(units: list[Unit], cost: Callable[[str], int], budget: int,
           max_sources: int | None = None) -> list[Unit]:
    """Best-scoring units whose token cost fits ``budget`` (at least one unit), drawn from at
    most ``max_sources`` different sources, with at most one code block."""
    chosen: list[Unit] = []
    sources: set[int] = set()
    left = budget
    for u in sorted(units, key=lambda u: (-u.score, u.source, u.order)):
        if max_sources and u.source not in sources and len(sources) >= max_sources:
            continue
        if has_code(u.text) and any(has_code(c.text) for c in chosen):
            continue  # one example is enough; a second would crowd out the sentences
        c = cost(u.text) + 1
        if c <= left or not chosen:
            chosen.append(u)
            sources.add(u.source)
            left -= c
        if left <= 8:
            break
    return chosen


@dataclass
class Evidence:
    """The prompt's sources and the single sentences behind them.

    ``blocks``: (hit, evidence text) pairs, most relevant source first. ``quotes``:
    (1-based position in ``blocks``, sentence) for prose units, best first.
    """

    blocks: list[tuple[Any, str]]
    quotes: list[tuple[int, str]]
    relevance: float = 0.0  # the best embedding similarity of any unit to the question
    code: tuple[int, str] | None = None  # for a "how do I" question: the example that shows how
    elsewhere: frozenset[str] = frozenset()  # chosen units about another method than the question's
    answers: dict[str, str] = field(default_factory=dict)  # a section's opening sentence -> its question heading
    later: list[tuple[int, str]] = field(default_factory=list)  # the sentences that answer its later parts
    # for a question comparing two things: (the thing, the other, the sentence that best says what it is)
    sides: list[tuple[str, str, tuple[int, str]]] = field(default_factory=list)
    claim: tuple[int, str] | None = None  # the sentence that speaks to a claim the question puts forward


def build_evidence(question: str, hits: Sequence[Any], *, embed: Callable[[list[str]], np.ndarray],
                   query_vector: np.ndarray, count_tokens: Callable[[str], int],
                   budget: int, max_sources: int | None = None,
                   embed_query: Callable[[str], np.ndarray] | None = None) -> Evidence:
    """The units of ``hits`` that bear on ``question``, fitting ``budget`` tokens.

    Titles are charged to the budget too (for the ``max_sources`` best-ranked hits); hits
    that contribute no unit are dropped, and at most ``max_sources`` contribute. With
    ``embed_query``, the later part of a two-part question is scored on its own as well, and
    the unit that answers it best is kept (:attr:`Evidence.later`).
    """
    units = [Unit(i, j, text) for i, h in enumerate(hits) for j, text in enumerate(split_units(h.text))]
    if not units:
        return Evidence([], [])
    embed = _memo(embed)
    signals = ([h.title for h in hits], [getattr(h, "kind", "") for h in hits], [getattr(h, "opens", False) for h in hits])
    score_units(question, units, embed, np.asarray(query_vector, dtype=np.float32), len(hits), *signals)
    about_example(question, units)
    *seconds, claimed = ([_part_answer(question, part, units, embed, embed_query, len(hits), signals)
                          for part in [*later_parts(question), claim_part(question)]]
                         if embed_query else [None])
    sides = _side_answers(question, units, embed, embed_query, len(hits), signals) if embed_query else []
    for prev, u in zip(units, units[1:]):  # named once scored: the symbol's words are not the sentence's
        if u.order == 1:
            u.text = named_summary([prev.text, u.text])[1]
    asked = {i for i, h in enumerate(hits) if h.title.rstrip().endswith("?")}
    # the answer kept for each later part, claim and compared thing
    extras = [u for u in [*seconds, claimed] + [u for _, _, u in sides] if u is not None]

    def choose(left: int) -> list[Unit]:
        chosen = select(units, count_tokens, left, max_sources)
        chosen = complete(question, units, chosen, count_tokens, left)
        chosen = with_antecedents(units, chosen, count_tokens, left, asked)
        # a question of three parts keeps the first part's best unit and one for each later part
        protect = 1 if sum(u is not None for u in seconds) >= 2 else 2
        for extra in extras:
            if all(u is not extra for u in chosen):
                kept = _room(chosen, count_tokens(extra.text) + 1, left, count_tokens, keep=extras,
                             protect=protect, examples=bool(HOW_TO.search(question)))
                chosen = kept + [extra] if kept is not None else chosen
        return with_counted(units, chosen, count_tokens, left, keep=extras)

    def title_cost(sources: Iterable[int]) -> int:
        return sum(count_tokens(hits[s].title) + 4 for s in set(sources))

    # titles are charged for every source that may contribute; the titles of those that do not
    # leave room for more sentences when the sources that then contribute still fit
    left = max(budget - title_cost(range(min(max_sources or len(hits), len(hits)))), 16)
    chosen = choose(left)
    if (more := max(budget - title_cost(u.source for u in chosen), 16)) > left:
        roomier = choose(more)
        # (more room lets a longer unit in; not at the cost of a part's answer the first choice kept)
        lost = any(any(u is e for u in chosen) and all(u is not e for u in roomier) for e in extras)
        size = title_cost(u.source for u in roomier) + sum(count_tokens(u.text) + 1 for u in roomier)
        if not lost and size <= budget:
            chosen = roomier
    by_source: dict[int, list[Unit]] = {}
    for u in chosen:
        by_source.setdefault(u.source, []).append(u)
    ranked = sorted(by_source, key=lambda s: -max(u.score for u in by_source[s]))
    blocks = [(hits[s], _join([u.text for u in sorted(by_source[s], key=lambda u: u.order)])) for s in ranked]
    position = {s: n for n, s in enumerate(ranked, 1)}
    # (a section's opening answer shares the question's words through its heading)
    quotable = [u for u in sorted(chosen, key=lambda u: -u.score)
                if (u.lexical > 0 or u.answers) and is_statement(u.text)]
    # a sentence about another method is context for the model, not a quote for the answer
    placed = {(u.source, u.order): u for u in chosen}
    said = {id(u): f"{prev.text} {u.text}" if (prev := _antecedent(u, placed, asked)) else u.text for u in chosen}
    for u in chosen:  # "Two flags play different roles." is quoted with the two it counts
        if (after := _counted(u, placed)) and all(any(a is c for c in chosen) for a in after):
            said[id(u)] = " ".join([u.text] + [a.text for a in after])
    quotes = [(position[u.source], said[id(u)]) for u in [u for u in quotable if not u.elsewhere] or quotable]
    # an example is shown when it ranks among the best units and is as close in meaning to the
    # question as any of them (an example that merely shares its words is not "how")
    # (a section's opening answer, lifted by its heading, does not push the example out)
    best = [u for u in sorted(chosen, key=lambda u: -u.score) if not u.answers][:CODE_RANK]
    closest = max(u.cosine for u in chosen)
    code = next(((position[u.source], u.text) for u in best if u.text.startswith("```") and u.lexical > 0
                 and u.cosine >= closest - CODE_COSINE), None)
    *later, claim = ((position[u.source], said[id(u)]) if u is not None and any(u is c for c in chosen) else None
                     for u in (*seconds, claimed))
    told = [(side, other, (position[u.source], said[id(u)])) for side, other, u in sides if any(u is c for c in chosen)]
    return Evidence(blocks, quotes, max(u.cosine for u in units), code if HOW_TO.search(question) else None,
                    frozenset(u.text for u in chosen if u.elsewhere), {u.text: u.answers for u in chosen if u.answers},
                    [x for x in later if x is not None], told, claim)


def on_first_topic(question: str, text: str) -> bool:
    """Whether ``text`` names something the first part of ``question`` names (any name counts
    here, ONNX and CLI too: they say which export, which interface); True when it names none."""
    named = [toks for t in key_terms(first_part(question)) if t.lower() not in ("rl", "i")
             and (toks := _content_tokens(t))]
    words = _content_tokens(text)
    return not named or any(mentions(e, words) for e in named)


def _memo(embed: Callable[[list[str]], np.ndarray]) -> Callable[[list[str]], np.ndarray]:
    """``embed`` that embeds each distinct text once (a unit is read for each part of a question)."""
    cache: dict[str, np.ndarray] = {}

    def once(texts: list[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in cache]
        if new:
            cache.update(zip(new, np.asarray(embed(new), dtype=np.float32)))
        return np.stack([cache[t] for t in texts]) if texts else np.asarray(embed(texts), dtype=np.float32)

    return once


def _part_answer(question: str, rest: str, units: list[Unit], embed: Callable[[list[str]], np.ndarray],
                 embed_query: Callable[[str], np.ndarray], n_hits: int, signals: tuple) -> Unit | None:
    """The unit that best answers ``rest``, a part of ``question`` (its later part:
    :func:`later_part`; the claim it puts forward: :func:`claim_part`), scored as a question of
    its own, from a source that names what the first part names (the ONNX export's file, not
    the C export's); None when ``rest`` is empty or none speaks to it."""
    if not rest:
        return None
    copies = [Unit(u.source, u.order, u.text) for u in units]
    # "what's eating my RAM?" is answered by "memory grows ...": a unit with the docs' word for a
    # term the part says otherwise speaks to it, though its meaning is further from the user's words
    terms = re.findall(r"[\w-]+", own_words(rest))
    score_units(rest, copies, embed, np.asarray(embed_query(rest), dtype=np.float32), n_hits, *signals,
                part=own_words(rest))
    said = {s: title for s, title in enumerate(signals[0])}
    for u in units:
        said[u.source] = f"{said.get(u.source, '')} {u.text}"
    on_topic = {s for s, text in said.items() if on_first_topic(question, text)}
    fit = [(c, u) for c, u in zip(copies, units) if c.lexical > 0 and not c.elsewhere and is_statement(c.text)
           and not has_code(c.text) and u.source in on_topic
           and (c.cosine >= LATER_COSINE or any(said_as(t, c.text.lower()) for t in terms))]
    return max(fit, key=lambda cu: cu[0].score)[1] if fit else None


def _side_answers(question: str, units: list[Unit], embed: Callable[[list[str]], np.ndarray],
                  embed_query: Callable[[str], np.ndarray], n_hits: int, signals: tuple
                  ) -> list[tuple[str, str, Unit]]:
    """For a question comparing two things (:func:`compared`), the unit that best says what
    each is, scored as the question without the other thing: one that opens with the thing and names it
    without the other first ("Double DQN uses the online network to select ..." for "dueling
    vs double dqn"); none when it compares nothing."""
    pair = compared(question)
    if pair is None:
        return []
    out = []
    for side, other in (pair, pair[::-1]):
        # the question about this one: the other's words taken out ("the difference between SAC and
        # exploration" asks how SAC explores)
        alone = " ".join(w for w in question.split() if not _content_tokens(w) & side_words(other, side))
        copies = [Unit(u.source, u.order, u.text) for u in units]
        score_units(alone, copies, embed, np.asarray(embed_query(alone), dtype=np.float32), n_hits, *signals)
        # a sentence about it, on its own page, that does not bring in the other
        fit = [(c.score + SIDE_BONUS * (speaks_of(u.text, side, other) + own_page(signals[0][u.source], side, other)
                                        - names_side(_content_tokens(prose(u.text)), other, side)
                                        - own_page(signals[0][u.source], other, side)), u)
               for c, u in zip(copies, units)
               if names_side(with_aliases(_content_tokens(prose(u.text))), side, other) and is_statement(u.text)
               and not has_code(u.text) and not u.elsewhere
               and len(prose(u.text).split()) >= ANSWER_WORDS]  # "NGU combines two novelty signals." leads in
        if fit:
            out.append((side, other, max(fit, key=lambda su: su[0])[1]))
    return out


def own_page(title: str, side: str, other: str) -> bool:
    """Whether a heading path names one compared thing and not the other (the Double DQN page)."""
    toks = with_aliases(_content_tokens(title))
    return names_side(toks, side, other) and not names_side(toks, other, side)


def named_summary(units: list[str]) -> list[str]:
    """An API entry's units with its docstring's first sentence led by the symbol it describes:
    "Export a run's policy ..." says nothing on its own, "`rlcore.export.export`: Export a
    run's policy ..." tells the user what to call."""
    m = SIGNATURE.match(units[0]) if len(units) > 1 else None
    if not m or units[1].startswith("```") or "`" + m.group(1) in units[1]:
        return units
    return [units[0], f"`{m.group(1)}`: {units[1]}", *units[2:]]


CONTINUATION = re.compile(r"(?:or|and|but|nor|then)\s")  # lower case: the rest of a sentence cut by an example


def is_statement(text: str) -> bool:
    """Whether a unit can stand as a quoted sentence of an answer."""
    text = text.strip()
    return not (text.startswith("```") or text.endswith(":") or REFERENCE.search(text) or AUTHORS.search(text)
                or SIGNATURE.search(text) or XREF.search(text) or META.match(text) or len(text.split()) < 5
                or len(INLINE_CODE.sub(" ", text).split()) < 3  # a literal, not a sentence
                or CONTINUATION.match(text)  # "or `python -m ...` on the command line.": half a sentence
                or FRAGMENT.match(text))  # "pass theirs: beta reaches 1 ...": a chunk window's cut start


def supporting_quote(answer: str, quotes: Sequence[tuple[int, str]], max_overlap: float = 0.6
                     ) -> tuple[int, str] | None:
    """The best quote that adds something to ``answer`` (most of its words not already there)."""
    said = _content_tokens(answer)
    for n, text in quotes:
        words = _content_tokens(text)
        if words and len(words & said) / len(words) <= max_overlap:
            return n, text
    return None


def prose(text: str) -> str:
    """A unit's words: a code block's own, or those of a sentence without the example it
    introduces (whose code would match any question that names ``train`` or ``make``)."""
    return text if text.startswith("```") else CODE_BLOCK.sub(" ", text)


def has_code(text: str) -> bool:
    """Whether a unit is or ends with a fenced code block."""
    return text.rstrip().endswith("```")


def sentence_count(text: str) -> int:
    """Sentences in ``text`` (code blocks ignored)."""
    body = CODE_BLOCK.sub(" ", text).strip()
    return len([s for s in re.split(r"(?<=[.!?。！？])\s*", body) if len(s.strip()) > 3])


def _join(texts: list[str]) -> str:
    out = texts[0]
    for prev, text in zip(texts, texts[1:]):
        # a code block or a list item starts a line, so that the block splits back into these units
        out += ("\n" if has_code(prev) or text.startswith("```") or LIST_MARKER.match(text) else " ") + text
    return out
