"""Parts named without their role, string-choice settings, and RL terms no ask accounts for.

:func:`named_parts` finds registered part keys written as words ("prioritized replay",
"Nature CNN", "PER") and infers the role from the registry. :func:`choice_values` maps
phrasings of closed-choice config fields ("decay the learning rate linearly", "Adam
optimizer") to the field's value. :func:`unmapped` lists the RL configuration terms of a
request that nothing recognised covers, so the plan can report them not done instead of
running the rest as if it were the answer.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from copilot.codegen import catalog

# Other names of registered part keys (a key missing from this rlcore is simply skipped).
PART_ALIASES = {
    "prioritized_replay": ("prioritized experience replay", "prioritised experience replay", "prioritised replay",
                           "prioritized replay buffer", "prioritized buffer", "PER"),
    "nstep_replay": ("n-step replay", "n step replay", "multi-step replay", "multistep replay", "n-step returns",
                     "n-step return", "multi-step returns"),
    "nature_cnn": ("nature cnn", "nature dqn cnn", "nature encoder", "atari cnn"),
    "impala_cnn": ("impala cnn", "impala resnet", "impala encoder"),
    "drq_cnn": ("drq cnn", "drq encoder"),
    "random_shift": ("random shifts", "random shift augmentation", "shift augmentation"),
    "random_crop": ("random crops", "random cropping"),
    "squashed_gaussian": ("tanh gaussian", "tanh-squashed gaussian", "squashed normal"),
    "diag_gaussian": ("diagonal gaussian",),
    "ou_noise": ("ornstein-uhlenbeck", "ornstein uhlenbeck", "ou noise", "ou process"),
}
# Keys whose words are ordinary phrases in requests (they count only next to their role).
AMBIGUOUS_KEYS = {"replay", "rollout", "identity", "mlp", "actor_critic", "q_network", "gaussian_noise",
                  "normal_noise", "categorical"}
CHOICE_SKIP = {"activation"}  # read by asks.read_asks (network asks)
DECAY = r"(?:decay\w*|anneal\w*|lower\w*|reduc\w*|decreas\w*)"
SCHEDULE = r"(?:schedule[sd]?|scheduling|decay\w*|anneal\w*)"
# Common knobs a request may name that need an rlcore setting (or are not available at all).
KNOBS = ("schedule", "scheduler", "decay", "decays", "decaying", "anneal", "annealing", "annealed", "warmup",
         "warm-up", "dropout", "layer norm", "layernorm", "layer normalization", "layer normalisation",
         "batch norm", "batchnorm", "batch normalization", "batch normalisation", "weight decay",
         "frame skip", "frameskip", "frame skipping", "frame stacking", "frame stack", "sticky actions",
         "dueling", "noisy net", "noisy nets", "noisy networks", "distributional", "lstm", "gru", "recurrent",
         "rnn", "attention", "transformer", "curriculum", "self-play", "self play", "multi-agent",
         "multiagent", "behaviour cloning", "behavior cloning", "imitation", "offline rl",
         "offline reinforcement learning", "model-based", "world model", "gpu", "cuda", "wandb",
         "weights & biases", "weights and biases", "early stopping", "stop early", "mixed precision", "fp16",
         "hindsight", "double dqn", "double q-learning", "double q", "orthogonal init", "orthogonal initialization",
         "prioritized", "prioritised", "n-step", "optimizer", "optimiser", "adam", "adamw", "rmsprop", "sgd",
         "kl penalty", "target kl", "gradient penalty", "spectral norm", "population based", "pbt",
         "evolution strategies", "action masking", "reward clipping")
BOOL_PHRASES = {  # boolean config field -> (value, phrases)
    "double_q": (True, ("double dqn", "double q-learning", "double q learning", "double q")),
    "ortho_init": (True, ("orthogonal init", "orthogonal initialization", "orthogonal initialisation",
                          "orthogonal weight init")),
}


def _pat(phrase: str) -> str:
    return r"[\s_-]*".join(re.escape(w) for w in re.split(r"[\s_-]+", phrase.lower().strip()))


def _spans(text: str, phrase: str) -> list[tuple[int, int]]:
    if phrase.isupper() and len(phrase) <= 4:  # an acronym counts only in capitals ("PER", not "per")
        return [m.span() for m in re.finditer(rf"(?<![A-Za-z0-9]){re.escape(phrase)}(?![A-Za-z0-9])", text)]
    return [m.span() for m in re.finditer(rf"(?<![a-z0-9]){_pat(phrase)}(?![a-z0-9])", text.lower())]


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(a < span[1] and span[0] < b for a, b in taken)


@functools.lru_cache(maxsize=1)
def part_phrases() -> dict[str, tuple[str, str]]:
    """Phrase -> (role, key) for every registered key written as words, plus aliases."""
    out: dict[str, tuple[str, str]] = {}
    for role, keys in catalog.all_part_keys().items():
        if role == "reward":
            continue  # rewards are read by name in facts.find_parts
        for key in keys:
            for alias in PART_ALIASES.get(key, ()):
                out[alias] = (role, key)
            if key not in AMBIGUOUS_KEYS and ("_" in key or len(key) > 5):
                out[key.replace("_", " ")] = (role, key)
    return out


def named_parts(text: str, skip: list[tuple[int, int]] | None = None) -> tuple[dict[str, str], list]:
    """(role -> key, spans) for part keys named without their role; the first per role wins."""
    parts: dict[str, str] = {}
    taken: list[tuple[int, int]] = list(skip or [])
    used: list[tuple[int, int]] = []
    for phrase, (role, key) in sorted(part_phrases().items(), key=lambda kv: -len(kv[0])):
        for span in _spans(text, phrase):
            if _overlaps(span, taken):
                continue
            taken.append(span)
            used.append(span)
            parts.setdefault(role, key)
    return parts, used


@functools.lru_cache(maxsize=1)
def choice_fields() -> dict[str, tuple[str, ...]]:
    """Closed-choice config field -> its choices, over every algorithm."""
    out: dict[str, tuple[str, ...]] = {}
    for algo in catalog.algos():
        for name, info in catalog.config_info(algo).items():
            if info.choices and name not in CHOICE_SKIP:
                out[name] = tuple(dict.fromkeys(out.get(name, ()) + tuple(info.choices)))
    return out


def _subject(name: str) -> list[str]:
    """Phrases naming what a ``*_schedule`` field schedules (``lr`` -> learning rate, lr, ...)."""
    from copilot.codegen.facts import HYPER

    stem = name[:-len("_schedule")]
    fields = {f for a in catalog.algos() for f in catalog.field_names(a) if f == stem or f.startswith(stem + "_")}
    fields -= set(choice_fields())
    phrases = list(HYPER.get(stem, ()))
    for f in sorted(fields):
        phrases += [f.replace("_", " ")] + list(HYPER.get(f, ()))
    return sorted(set(phrases + [stem.replace("_", " ")]), key=len, reverse=True)


def _schedule_value(name: str, text: str) -> tuple[str, tuple[int, int]] | None:
    choices = choice_fields()[name]
    moving = [c for c in choices if c != "constant"]
    subj = "(?:" + "|".join(_pat(p) for p in _subject(name)) + ")"
    val = "(?:" + "|".join(re.escape(c) for c in choices) + ")"
    low = text.lower()
    pats = [rf"({val})(?:ly)?\s+(?:{DECAY}\s+|scheduled\s+)?(?:the\s+)?{subj}(?:\s+{SCHEDULE})?",
            rf"{subj}\s+{SCHEDULE}\b[^.;,]{{0,40}}?\b({val})(?:ly)?\b",
            rf"{DECAY}\s+(?:the\s+|its\s+)?{subj}(?:\s+({val})ly\b)?",
            rf"{subj}\s+(?:that\s+|which\s+)?{DECAY}(?:\s+({val})ly\b)?"]
    for pat in pats:
        m = re.search(rf"(?<![a-z0-9]){pat}(?![a-z0-9])", low)
        if m:
            value = m.group(1) or (moving[0] if len(moving) == 1 else None)
            if value:
                return value, m.span()
    return None


def _plain_value(name: str, text: str) -> tuple[str, tuple[int, int]] | None:
    choices = choice_fields()[name]
    subj = _pat(name.replace("_", " ")).replace("optimizer", "optimi[sz]er")
    low = text.lower()
    others = {c for f, cs in choice_fields().items() if f != name for c in cs}
    for value in choices:
        v = _pat(value)
        m = re.search(rf"(?<![a-z0-9])(?:{v}\s+{subj}|{subj}\s*(?:=|:|is|to|of)?\s*{v})(?![a-z0-9])", low)
        if not m and value not in others and len(value) >= 4 and value not in ("linear", "constant"):
            m = re.search(rf"(?<![a-z0-9]){v}(?![a-z0-9])", low)
        if m:
            return value, m.span()
    return None


def choice_values(text: str) -> tuple[dict[str, Any], dict[str, list[tuple[int, int]]]]:
    """(field -> value, field -> spans) for closed-choice fields and boolean phrases in ``text``."""
    out: dict[str, Any] = {}
    used: dict[str, list[tuple[int, int]]] = {}
    for name in choice_fields():
        hit = _schedule_value(name, text) if name.endswith("_schedule") else _plain_value(name, text)
        if hit:
            out[name], used[name] = hit[0], [hit[1]]
    for name, (value, phrases) in BOOL_PHRASES.items():
        spans = [s for p in phrases for s in _spans(text, p)]
        if spans and any(name in catalog.field_names(a) for a in catalog.algos()):
            out[name], used[name] = value, spans
    return out, used


@functools.lru_cache(maxsize=1)
def rl_terms() -> tuple[str, ...]:
    """Configuration terms: part keys as words, multi-word config field names, common knobs."""
    fields = {f.replace("_", " ") for a in catalog.algos() for f in catalog.field_names(a) if "_" in f}
    terms = set(KNOBS) | set(part_phrases()) | fields
    return tuple(sorted(terms, key=len, reverse=True))


def _covered(text: str, spec: Any, facts: Any, asked: Any) -> list[tuple[int, int]]:
    """Spans of the request accounted for by a recognised ask or a spec value."""
    from copilot.codegen.checks import field_phrases
    from copilot.codegen.facts import FLAGS

    names = set(spec.config) | set(facts.hyper) | set(asked.values)
    names |= {t for t in asked.toggles if "=" not in t}
    phrases: list[str] = []
    for name in names:
        phrases += field_phrases(name) + list(FLAGS.get(name, (None, ()))[1]) + list(BOOL_PHRASES.get(name, (None, ()))[1])
    parts = {(r, k) for r, k in spec.parts.items()} | {(r, k) for r, ks in asked.parts.items() for k in ks}
    parts |= {tuple(t.split("=", 1)) for t in asked.toggles if "=" in t}
    for role, key in parts:
        phrases += [key, key.replace("_", " "), role] + list(PART_ALIASES.get(key, ()))
    spans = [s for p in set(phrases) for s in _spans(text, p)]
    spans += [s for name, found in choice_values(text)[1].items() if name in names for s in found]
    return spans


def unmapped(spec: Any, facts: Any, asked: Any) -> list[str]:
    """RL configuration terms in the request that no ask or spec value accounts for."""
    text = facts.text
    covered = _covered(text, spec, facts, asked)
    found: list[tuple[int, str]] = []
    taken = list(covered)
    for term in rl_terms():
        for span in _spans(text, term):
            if not _overlaps(span, taken):
                taken.append(span)
                found.append((span[0], text[span[0]:span[1]]))
    return [phrase for _, phrase in sorted(found)]


def unmapped_sentence(phrase: str) -> str:
    return (f"The request asks for {phrase}, which the generator could not map to an rlcore setting; "
            "not done.")
