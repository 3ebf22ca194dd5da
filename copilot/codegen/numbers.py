"""Reading numbers the way people write them: ``20k``, ``1e-3``, ``25,000``, ``two million``,
``2万``, ``一万五千``. Pure functions, used by :mod:`copilot.codegen.facts`."""

from __future__ import annotations

import re
import unicodedata

NUMBER = r"(?<![\w.])(\d+(?:,\d{3})+|\d*\.\d+|\d+)(?:\s*(e[-+]?\d+))?(?:\s*(k|m|thousand|million|mio)\b)?"
NUMBER_RE = re.compile(NUMBER, re.IGNORECASE)
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "mio": 1e6}

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_BIG = {"万": 10_000, "亿": 100_000_000}
_CN_RUN = re.compile(r"(?:\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千])[零〇一二两三四五六七八九十百千万亿\d.]*")

_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_WORDS.update({w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)})
_WORD_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_NUM = r"(?:%s)" % "|".join(_WORDS)
_N = r"(?:%s|%s)" % ("|".join(_WORDS), "|".join(_WORD_SCALES))
_WORD_RUN = re.compile(rf"\b(?:a[\s-]+(?:hundred|thousand|million)|{_NUM})(?:[\s-]+(?:and[\s-]+)?{_N})*\b",
                       re.IGNORECASE)


def parse_number(text: str) -> float | None:
    """The value of the first number in ``text`` (suffixes k/M/thousand/million understood)."""
    m = NUMBER_RE.search(text)
    return match_value(m) if m else None


def match_value(m: re.Match) -> float:
    """The value of a :data:`NUMBER_RE` match."""
    digits, exp, scale = m.group(1), m.group(2), m.group(3)
    value = float(digits.replace(",", "") + (exp.replace(" ", "") if exp else ""))
    if scale:
        value *= _SCALE[scale.lower()]
    return value


def as_int(value: float) -> int | float:
    """``value`` as an int when it is whole, else unchanged."""
    return int(value) if float(value).is_integer() else value


def chinese_to_int(text: str) -> float | None:
    """``两万`` -> 20000, ``一万五千`` -> 15000, ``2万`` -> 20000, ``十`` -> 10; None if unreadable."""
    total, section, digit = 0.0, 0.0, None
    i = 0
    while i < len(text):
        ch = text[i]
        m = re.match(r"\d+(?:\.\d+)?", text[i:])
        if m:
            digit = float(m.group(0))
            i += len(m.group(0))
            continue
        if ch in _CN_DIGITS:
            digit = float(_CN_DIGITS[ch])
        elif ch in _CN_UNITS:
            section += (1.0 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        elif ch in _CN_BIG:
            total = (total + section + (digit or 0.0)) * _CN_BIG[ch]
            section, digit = 0.0, None
        else:
            return None
        i += 1
    return total + section + (digit or 0.0)


def _replace_chinese(m: re.Match) -> str:
    run = m.group(0)
    if re.fullmatch(r"[\d.]+", run):
        return run
    value = chinese_to_int(run)
    return run if value is None else f" {as_int(value)} "


def _words_to_int(words: str) -> int | None:
    total, current, seen = 0, 0, False
    for w in re.findall(r"[a-z]+", words.lower()):
        if w in ("a", "and"):
            current = current or (1 if w == "a" else 0)
            continue
        seen = True
        if w in _WORDS:
            current += _WORDS[w]
        elif w == "hundred":
            current = (current or 1) * 100
        else:
            total += (current or 1) * _WORD_SCALES[w]
            current = 0
    return total + current if seen else None


def _replace_words(m: re.Match) -> str:
    run = m.group(0)
    value = _words_to_int(run)
    return run if value is None else str(value)


def normalize_numbers(text: str) -> str:
    """NFKC-normalise and write Chinese and English number words as digits."""
    text = unicodedata.normalize("NFKC", text)
    text = _CN_RUN.sub(_replace_chinese, text)
    return _WORD_RUN.sub(_replace_words, text)
