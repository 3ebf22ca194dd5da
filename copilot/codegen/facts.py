"""Deterministic reading of the facts a request states outright.

The LLM fills the RunSpec; these facts are what the spec is checked against. Only explicit
statements count: an env id or a known env name, an algorithm key or name, "20k steps",
"seed 7", "16 envs", "learning rate 1e-3", "evaluate over 10 episodes", "save a checkpoint",
a registered part key such as ``rnd``. Chinese requests are first rewritten word by word
into English terms (:mod:`copilot.glossary_zh` plus the table below) so one set of patterns
reads both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from copilot.codegen import catalog
from copilot.codegen.numbers import NUMBER, NUMBER_RE, as_int, match_value, normalize_numbers
from copilot.glossary_zh import GLOSSARY

# Chinese terms -> English, applied before the glossary (longest first).
ZH_TERMS = {
    "步": " steps ", "时间步": " steps ", "个环境": " envs ", "并行环境": " parallel envs ",
    "环境": " env ", "回合": " episodes ", "局": " episodes ", "轮评估": " eval episodes ",
    "评估": " evaluate ", "每次": " ", "每个": " ", "测试": " evaluate ", "随机种子": " seed ", "种子": " seed ",
    "检查点": " checkpoint ", "保存模型": " save checkpoint ", "保存": " save ", "每": " every ",
    "学习率": " learning rate ", "批大小": " batch size ", "批量大小": " batch size ",
    "批次大小": " batch size ", "折扣因子": " gamma ", "熵系数": " entropy coefficient ",
    "缓冲区大小": " buffer size ", "经验回放": " replay buffer ", "隐藏层": " hidden ",
    "单摆": " Pendulum ", "倒立摆": " CartPole ", "车杆": " CartPole ", "小车": " CartPole ",
    "山地车": " MountainCar ", "连续山地车": " MountainCarContinuous ", "双连杆": " Acrobot ",
    "月球着陆": " LunarLander ", "观测归一化": " normalize observations ",
    "奖励归一化": " normalize rewards ",
}
# Generic hyperparameter -> phrases that name it (longest phrase wins where they overlap).
HYPER = {
    "lr": ("learning rate", "learning-rate", "lr", "step size"),
    "actor_lr": ("actor learning rate", "actor lr", "policy learning rate"),
    "critic_lr": ("critic learning rate", "critic lr", "q learning rate", "value learning rate"),
    "batch_size": ("batch size", "batch-size", "minibatch size", "mini-batch size", "batch"),
    "gamma": ("gamma", "discount factor", "discount", "γ"),
    "tau": ("tau", "polyak", "soft update coefficient", "soft update rate", "τ"),
    "buffer_size": ("buffer size", "replay buffer size", "replay size", "replay buffer", "buffer",
                    "replay capacity", "memory size"),
    "n_steps": ("rollout length", "steps per rollout", "rollout steps", "n steps"),
    "n_epochs": ("epochs", "epoch", "n epochs", "ppo epochs"),
    "ent_coef": ("entropy coefficient", "entropy coef", "entropy bonus", "entropy weight", "ent coef"),
    "vf_coef": ("value coefficient", "value loss coefficient", "vf coef", "value function coefficient"),
    "clip_range": ("clip range", "clipping range", "clip ratio", "clip epsilon", "clip", "ε clip"),
    "gae_lambda": ("gae lambda", "lambda", "λ", "gae λ"),
    "max_grad_norm": ("max grad norm", "gradient clipping", "grad norm", "gradient norm", "grad clip"),
    "learning_starts": ("learning starts", "warmup steps", "warm-up steps", "warmup", "warm-up",
                        "random steps"),
    "exploration_noise": ("exploration noise", "action noise", "noise std", "noise"),
    "target_noise": ("target noise", "target policy noise", "smoothing noise"),
    "exploration_final_eps": ("final epsilon", "epsilon", "final eps", "exploration epsilon", "eps", "ε"),
    "exploration_fraction": ("exploration fraction",),
    "target_update_interval": ("target update interval", "target update every",
                               "target network update interval", "target update period"),
    "train_freq": ("train freq", "train frequency", "training frequency", "update every"),
    "gradient_steps": ("gradient steps", "updates per step"),
    "policy_delay": ("policy delay", "actor delay", "delayed policy update"),
    "init_alpha": ("initial alpha", "init alpha", "alpha", "entropy temperature", "temperature"),
    "hidden": ("hidden sizes", "hidden size", "hidden units", "hidden layers", "hidden layer",
               "hidden", "units", "neurons", "network size", "layer size", "width", "net arch",
               "network architecture", "architecture"),
}
# Generic hyperparameters that map onto several fields of some agents.
SPREAD = {"lr": ("actor_lr", "critic_lr")}
FLAGS = {  # field -> (value, phrases)
    "normalize_obs": (True, ("normalize observations", "normalise observations", "observation normalization",
                             "observation normalisation", "normalize obs", "normalise obs", "obs normalization")),
    "normalize_reward": (True, ("normalize rewards", "normalise rewards", "reward normalization",
                                "reward normalisation", "normalize reward", "reward scaling")),
    "lr_schedule": ("linear", ("linear learning rate", "linear lr", "learning rate decay", "lr decay",
                               "anneal the learning rate", "linearly decaying learning rate")),
}
CONNECT = (r"\s*(?:(?:=|:|of|is|to|at|as|set to|equal to|around|about|approximately|~|std|value|size|"
           r"coefficient|coef|rate|factor|constant)\s*)*")
REWARD_NAMES = {  # how requests name exploration bonuses -> registry key (unregistered: refused)
    "random network distillation": "rnd", "curiosity": "icm", "intrinsic curiosity": "icm",
    "random encoders": "re3", "rnd": "rnd", "icm": "icm", "re3": "re3", "e3b": "e3b",
    "elliptical episodic bonus": "e3b", "ngu": "ngu", "never give up": "ngu",
    "pseudo-count": "pseudo_counts", "pseudo count": "pseudo_counts", "count-based": "pseudo_counts",
    "simhash": "pseudo_counts", "ride": "ride", "impact-driven": "ride", "disagreement": "disagreement",
    "agac": "agac", "go-explore": "go_explore", "novelty search": "novelty_search"}


@dataclass
class Facts:
    """What a request states outright; ``None`` where it says nothing."""

    text: str  # the request rewritten in English terms with digits (used for evidence checks)
    algo: str | None = None
    env_id: str | None = None
    unknown_env: str | None = None
    total_steps: int | None = None
    seed: int | None = None
    num_envs: int | None = None
    eval_episodes: int | None = None
    checkpoint: bool = False
    checkpoint_every: int | None = None
    hyper: dict[str, Any] = field(default_factory=dict)  # generic name or field -> value
    parts: dict[str, str] = field(default_factory=dict)

    def mentions(self, *phrases: str) -> bool:
        """Whether any phrase occurs in the request as whole words (case-insensitive)."""
        return any(_find(self.text, p) for p in phrases if p)


def _find(text: str, phrase: str) -> re.Match | None:
    pat = re.escape(phrase.lower()).replace(r"\ ", r"[\s_-]*")
    return re.search(rf"(?<![a-z0-9]){pat}(?![a-z0-9])", text.lower())


def to_english(request: str) -> str:
    """Digits for number words, English terms for known Chinese ones, other CJK dropped."""
    text = normalize_numbers(request)
    table = {**{k: f" {v[0]} " for k, v in GLOSSARY.items()}, **ZH_TERMS}
    for term in sorted(table, key=len, reverse=True):
        if term in text:
            text = text.replace(term, table[term])
    text = re.sub(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]", " ", text)
    return re.sub(r"[ \t]+", " ", text).strip()


# ----- algorithm and environment ---------------------------------------------------------
ALGO_ALIASES = {"deep q-network": "dqn", "deep q network": "dqn", "deep q-learning": "dqn",
                "advantage actor-critic": "a2c", "advantage actor critic": "a2c", "proximal policy": "ppo",
                "soft actor critic": "sac", "twin delayed": "td3"}


def algo_names() -> dict[str, str]:
    """Phrase -> algorithm key: the keys, the names in each agent module's docstring, aliases."""
    import sys

    names = {phrase: key for phrase, key in ALGO_ALIASES.items() if key in catalog.algos()}
    for key in catalog.algos():
        names[key] = key
        doc = (sys.modules[catalog.agent_class(key).__module__].__doc__ or "").strip().splitlines()
        if doc:
            name = re.split(r"\s*[(:,.]|\s+with\s", doc[0])[0].strip().lower()
            if 4 < len(name) < 50:
                names[name] = key
    return names


def find_algos(text: str) -> list[str]:
    """Every algorithm named in ``text``, in order of first mention (longer names win over
    keys inside them)."""
    hits: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for phrase, key in sorted(algo_names().items(), key=lambda kv: -len(kv[0])):
        for m in re.finditer(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", text.lower()):
            if not any(a < m.end() and m.start() < b for a, b in taken):
                taken.append(m.span())
                hits.append((m.start(), key))
    return list(dict.fromkeys(key for _, key in sorted(hits)))


def find_algo(text: str) -> str | None:
    """The algorithm named first in ``text``."""
    algos = find_algos(text)
    return algos[0] if algos else None


ENV_TOKEN = re.compile(r"(?<![\w/-])((?:[A-Za-z_][\w.]*:)?[A-Za-z][\w/]*(?:-[A-Za-z]\w*)*-v\d+)\b")


def _camel_words(name: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", name)]


def env_names() -> dict[str, str]:
    """Lower-case base name (``cartpole``) -> newest registered id (``CartPole-v1``)."""
    best: dict[str, tuple[int, str]] = {}
    for env_id in catalog.registered_envs():
        m = re.fullmatch(r"(?:.*/)?([A-Za-z][A-Za-z0-9]*)-v(\d+)", env_id)
        if m and len(m.group(1)) >= 5:
            base, version = m.group(1).lower(), int(m.group(2))
            if base not in best or version > best[base][0]:
                best[base] = (version, env_id)
    return {base: env_id for base, (_, env_id) in best.items()}


def find_env(text: str) -> tuple[str | None, str | None]:
    """(registered env id, unregistered id-like token) named in ``text``."""
    unknown = None
    algos = {a.replace("-", "") for a in catalog.algos()}
    for m in ENV_TOKEN.finditer(text):
        token = m.group(1)
        if token.lower().replace("-", "") in algos:  # "DrQ-v2" names an algorithm, not an env
            continue
        if catalog.env_registered(token):
            return token, None
        folded = {e.lower(): e for e in catalog.registered_envs()}
        if token.lower() in folded:
            return folded[token.lower()], None
        unknown = unknown or token
    if unknown:
        return None, unknown
    words = re.findall(r"[A-Za-z0-9]+", text)
    names = env_names()
    for size in (3, 2, 1):
        for i in range(len(words) - size + 1):
            joined = "".join(words[i:i + size]).lower()
            if joined in names:
                continuous = joined + "continuous"
                if continuous in names and _find(text, "continuous"):
                    joined = continuous
                return names[joined], None
    return None, None


# ----- counts ----------------------------------------------------------------------------
STEP_WORDS = r"(?:env(?:ironment)?[\s-]*)?(?:time[\s-]*)?(?:steps?|timesteps?|frames|interactions)"


def find_steps(text: str) -> int | None:
    """Total env steps: the largest "N steps" not tied to "every", "per" or a rollout."""
    found = []
    pattern = re.compile(NUMBER + r"\s*(?:total\s+|training\s+)?" + STEP_WORDS + r"(?!\s*(?:per|each|of each))",
                         re.IGNORECASE)
    for m in pattern.finditer(text):
        before = text[max(0, m.start() - 30):m.start()].lower()
        if re.search(r"(every|each|n[_ ]steps|rollouts? of|after|warm-?up( of)?|starts?( at| after)?)\s*$", before):
            continue
        found.append(match_value(m))
    m = re.search(r"(?<![\w-])(?:total[_ ]steps|timesteps|steps|budget)" + CONNECT + NUMBER, text, re.IGNORECASE)
    if m:
        found.append(match_value(re.match(NUMBER, text[m.start(1):], re.IGNORECASE)))
    found = [v for v in found if v >= 1]
    return int(max(found)) if found else None


def _int_after(text: str, words: str) -> int | None:
    m = re.search(rf"(?<![a-z]){words}{CONNECT}(\d+)\b", text, re.IGNORECASE)
    return int(m.group(m.lastindex)) if m else None


def find_seed(text: str) -> int | None:
    seed = _int_after(text, r"(?:random[\s_-]*)?seed(?:ed)?(?:\s+(?:with|value|number))?")
    if seed is None:
        m = re.search(r"\bseeds?\s*#?\s*(\d+)", text, re.IGNORECASE)
        seed = int(m.group(1)) if m else None
    return seed


def find_num_envs(text: str) -> int | None:
    m = re.search(r"(\d+)\s*(?:parallel\s+|vectori[sz]ed\s+|copies of the\s+|separate\s+)?"
                  r"(?:envs?|environments?|workers|actors)\b(?!\s*[-_]?v\d)", text, re.IGNORECASE)
    if m:
        return int(m.group(1))
    return _int_after(text, r"(?:num[_ ]envs|n[_ ]envs|number of (?:parallel )?(?:envs|environments)|"
                            r"parallel (?:envs|environments))")


def find_eval_episodes(text: str) -> int | None:
    ev = r"(?:evaluat\w*|eval|test\w*|assess\w*)"
    pats = [rf"{ev}\b[^.;\n]{{0,40}}?(\d+)\s*(?:final\s+|test\s+|evaluation\s+|eval\s+)?(?:episodes?|runs|rollouts|trials|games)",
            r"(\d+)\s*(?:final\s+)?(?:evaluation|eval|test)\s*(?:episodes?|runs|rollouts)",
            rf"(\d+)\s*(?:episodes?|runs|rollouts)\s*(?:of|for)?\s*{ev}",
            r"eval[_ ]episodes" + CONNECT + r"(\d+)"]
    for pat in pats:
        m = re.search(pat, text, re.IGNORECASE)
        if m:
            return int(m.group(1))
    return None


def find_checkpoint(text: str) -> tuple[bool, int | None]:
    asked = bool(re.search(r"checkpoint|save (?:the |a |its )?(?:model|agent|weights|policy|network)|"
                           r"\bsave\b|saving", text, re.IGNORECASE))
    m = re.search(r"(?:checkpoint\w*|sav\w+)[^.;\n]{0,30}?every\s+" + NUMBER, text, re.IGNORECASE) or \
        re.search(r"every\s+" + NUMBER + r"\s*(?:steps?)?[^.;\n]{0,20}?(?:checkpoint|save)", text, re.IGNORECASE)
    every = int(match_value(re.search(NUMBER, m.group(0)[m.group(0).lower().find("every"):],
                                      re.IGNORECASE))) if m else None
    return asked, every


# ----- hyperparameters and parts ---------------------------------------------------------
def _value_near(text: str, start: int, end: int) -> tuple[float, int, int] | None:
    """The number right after ``text[start:end]`` (or else right before it) and its span."""
    after = re.match(CONNECT + r"(-\s*)?" + NUMBER, text[end:], re.IGNORECASE)
    if after:
        num = NUMBER_RE.search(text, end)
        sign = -1.0 if after.group(1) else 1.0
        return sign * match_value(num), start, num.end()
    before = re.search(NUMBER + r"\s*(?:of\s+)?$", text[:start], re.IGNORECASE)
    if before:
        return match_value(before), before.start(), end
    return None


def find_hidden(text: str) -> list[int] | None:
    """``[64, 64]``, ``64x64``, ``2 hidden layers of 128 units``, ``hidden size 256``."""
    m = re.search(r"(\d+)\s*(?:hidden\s+)?layers?\s*(?:of|with|,)?\s*(\d+)\s*(?:units|neurons|hidden)?", text,
                  re.IGNORECASE)
    if m and int(m.group(1)) <= 8:
        return [int(m.group(2))] * int(m.group(1))
    m = re.search(r"\b(\d+)\s*[x×]\s*(\d+)(?:\s*[x×]\s*(\d+))?\b", text)
    if m and re.search(r"hidden|layer|net|mlp|units|neurons|architecture|width", text, re.IGNORECASE):
        return [int(g) for g in m.groups() if g]
    for phrase in HYPER["hidden"]:
        hit = _find(text, phrase)
        if not hit:
            continue
        m = re.match(r"\s*(?:=|:|of|sizes?|to|at)?\s*[\[(]?\s*(\d+)((?:\s*,\s*\d+)*)", text[hit.end():])
        if m:
            rest = [int(x) for x in re.findall(r"\d+", m.group(2))]
            return [int(m.group(1))] + rest if rest else [int(m.group(1))] * 2
        m = re.search(r"(\d+)\s*$", text[:hit.start()])
        counts_layers = "layer" in phrase or re.match(r"\s*layers?\b", text[hit.end():])
        if m and not counts_layers:  # "2 hidden layers" counts layers, it is not a width
            return [int(m.group(1))] * 2
    return None


INTERVALS = {  # words before "every N steps" -> the config field that holds the interval
    "target_update_interval": r"target(?:[\s-]+(?:network|net|q|model))?(?:[\s-]+\w+){0,2}",
    "train_freq": r"(?:train(?:ing)?|update the (?:network|model)|gradient updates?)",
}


def find_intervals(text: str) -> dict[str, int]:
    """``updating the target network every 500 steps`` -> {"target_update_interval": 500}."""
    out: dict[str, int] = {}
    for name, words in INTERVALS.items():
        m = re.search(rf"\b{words}\s+(?:once\s+)?every\s+" + NUMBER + r"\s*(?:env\s+)?steps?", text, re.IGNORECASE) \
            or re.search(r"every\s+" + NUMBER + rf"\s*(?:env\s+)?steps?,?\s+(?:\w+\s+){{0,2}}{words}\b", text,
                         re.IGNORECASE)
        if m:
            out[name] = int(match_value(re.search(NUMBER, m.group(0)[m.group(0).lower().find("every"):],
                                                  re.IGNORECASE)))
    return out


def _phrases() -> list[tuple[str, str]]:
    pairs = [(p, name) for name, ps in HYPER.items() if name != "hidden" for p in ps]
    for algo in catalog.algos():
        for name in catalog.field_names(algo):
            pairs += [(name, name), (name.replace("_", " "), name)]
    return sorted(set(pairs), key=lambda pn: (-len(pn[0]), pn))


def find_hyper(text: str, spans: list[tuple[int, int]] | None = None) -> dict[str, Any]:
    """Generic hyperparameter or field name -> value stated in ``text``; the spans of the
    numbers used are appended to ``spans``."""
    out: dict[str, Any] = {}
    taken: list[tuple[int, int]] = []
    low = text.lower()
    for phrase, name in _phrases():
        pat = re.escape(phrase.lower()).replace(r"\ ", r"[\s_-]*")
        for m in re.finditer(rf"(?<![a-z0-9]){pat}(?![a-z0-9])", low):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            taken.append(m.span())
            hit = _value_near(text, m.start(), m.end())
            if hit is None or name in out:
                continue
            taken.append(hit[1:])
            if spans is not None:
                spans.append(hit[1:])
            out[name] = as_int(hit[0])
    for name, value in find_intervals(text).items():
        out.setdefault(name, value)
    hidden = find_hidden(text)
    if hidden:
        out["hidden"] = hidden
    for name, (value, phrases) in FLAGS.items():
        if any(_find(text, p) for p in phrases):
            out.setdefault(name, value)
    return out


def find_parts(text: str) -> dict[str, str]:
    """Role -> part key named in ``text`` (rewards by key or name; others next to their role)."""
    parts: dict[str, str] = {}
    keys = catalog.all_part_keys()
    named = {k: k for k in keys.get("reward", [])}  # a key ("RND curiosity") beats a generic name
    for table in (named, REWARD_NAMES):
        for phrase, key in sorted(table.items(), key=lambda kv: -len(kv[0])):
            if _find(text, phrase):
                parts.setdefault("reward", key)
    for role, role_keys in keys.items():
        if role == "reward":
            continue
        for key in role_keys:
            k = re.escape(key).replace("_", "[ _-]?")
            if re.search(rf"\b{k}\b\s*{role}|\b{role}\s*(?:=|:|is|of)?\s*{k}\b", text, re.IGNORECASE):
                parts.setdefault(role, key)
    return parts


def read_facts(request: str) -> Facts:
    """Every explicit fact in ``request`` (English or Chinese)."""
    text = to_english(request)
    facts = Facts(text=text)
    facts.algo = find_algo(text)
    facts.env_id, facts.unknown_env = find_env(text)
    masked = ENV_TOKEN.sub(lambda m: " " * len(m.group(0)), text)  # keep "-v1" out of the numbers
    spans: list[tuple[int, int]] = []
    facts.hyper = find_hyper(masked, spans)
    for start, end in spans:  # a number that is a hyperparameter's value is not a step count
        masked = masked[:start] + " " * (end - start) + masked[end:]
    facts.total_steps = find_steps(masked)
    facts.seed = find_seed(masked)
    facts.num_envs = find_num_envs(masked)
    facts.eval_episodes = find_eval_episodes(masked)
    facts.checkpoint, facts.checkpoint_every = find_checkpoint(masked)
    facts.parts = find_parts(masked)
    _add_named(facts, masked)
    return facts


def _add_named(facts: Facts, text: str) -> None:
    """Closed-choice settings and part keys named without their role (:mod:`terms`)."""
    from copilot.codegen import terms

    for name, value in terms.choice_values(text)[0].items():
        facts.hyper.setdefault(name, value)
    for role, key in terms.named_parts(text)[0].items():
        facts.parts.setdefault(role, key)
