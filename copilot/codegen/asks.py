"""A request split into checkable asks, read with code (English and Chinese).

:func:`read_asks` finds what a request asks for beyond one training run: the grid axes
(several algorithms, several envs, seeds, lists of config values, lists of parts, with/without
toggles), statistics, a comparison plot, exports, an evaluation of the saved checkpoint,
continuing the run, a reward change, a custom environment, network details, fixing a failing
run and tuning. Every number and name comes from the request's text; nothing is guessed here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from copilot.codegen import catalog
from copilot.codegen.facts import ENV_TOKEN, FLAGS, HYPER, _find, env_names, find_algos, to_english
from copilot.codegen.numbers import NUMBER, NUMBER_RE, as_int, match_value

ZH_WORDS = {"和": " and ", "与": " and ", "及": " and ", "、": ", ", "比较": " compare ", "对比": " compare ",
            "哪个更好": " which is better ", "哪个好": " which is better ", "置信区间": " confidence interval ",
            "画出": " plot ", "绘制": " plot ", "画": " plot ", "一张图": " one figure ", "图": " figure ",
            "导出": " export ", "继续训练": " continue training ", "再训练": " continue training for another ",
            "重新加载": " reload ", "加载": " load ", "调参": " tune ", "超参数搜索": " hyperparameter search ",
            "激活函数": " activation ", "自定义环境": " custom environment ", "网格": " grid ",
            "惩罚": " penalty ", "奖励": " reward ", "减去": " subtract ", "在": " ", "上": " ", "用": " ",
            "使用": " ", "每次": " each ", "个": " "}
LIST_SEP = r"\s*(?:,\s*(?:and|or)?|and|or|/|vs\.?|versus|&)\s*"
ITEM = (NUMBER + r"(?![\d.])(?!\s*(?:env\s+|time\s*)?(?:steps?|timesteps|episodes?|seeds?|envs?|environments|"
        r"runs|frames|%))")
NUM_LIST = rf"({ITEM}(?:{LIST_SEP}{ITEM})+)"
PLURALS = {"learning rate": "learning rates", "batch size": "batch sizes", "clip range": "clip ranges",
           "gamma": "gammas", "entropy coefficient": "entropy coefficients", "tau": "taus",
           "buffer size": "buffer sizes", "n steps": "n steps", "epoch": "epochs"}
ACTIVATIONS = ("relu", "tanh", "elu", "gelu", "silu", "leaky relu", "leakyrelu", "sigmoid", "selu", "mish",
               "swish", "softplus")
FIX_WORDS = (r"never (?:gets|reaches|gets past|learns|solves)|doesn'?t (?:learn|reach|solve|work)|does not "
             r"(?:learn|reach|solve|work)|stuck at|fix (?:it|my|the)|failing run|won'?t learn|is not learning|"
             r"isn'?t learning|diverg\w+|collaps\w+|nan")
TUNE_WORDS = (r"\btune\b|\btuning\b|hyper-?parameter (?:search|sweep|optimi[sz]ation)|find (?:a |the )?"
              r"(?:good|best|optimal|right) (?:learning rate|lr|hyper-?parameters?|value|config\w*|gamma|discount|"
              r"entropy coef\w*|clip range|gae lambda|batch size|tau)|optuna|optimi[sz]e (?:the )?hyper-?parameters")


@dataclass
class Asked:
    """What the request asks for, read by code; empty lists / None where it says nothing."""

    text: str
    algos: list[str] = field(default_factory=list)
    envs: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    values: dict[str, list[Any]] = field(default_factory=dict)  # generic field name -> values
    parts: dict[str, list[str]] = field(default_factory=dict)  # role -> part keys compared
    toggles: list[str] = field(default_factory=list)  # flag fields or "role=key" compared on/off
    metric: str | None = None  # "iqm" or "mean" when statistics are asked for
    compare: bool = False
    plot: bool = False
    exports: list[str] = field(default_factory=list)
    evaluate_episodes: int | None = None  # evaluation of the saved checkpoint
    more_steps: int | None = None  # continue the run for this many steps
    base_steps: int | None = None  # the step count of the first training, continuation excluded
    reward: str | None = None  # the sentence describing a reward change
    custom_env: str | None = None  # the sentence describing a custom environment
    hidden: list[int] | None = None
    activation: str | None = None
    fix: bool = False
    tune: bool = False
    run_path: str | None = None  # a run folder named in the request

    def is_grid(self) -> bool:
        return (len(self.algos) > 1 or len(self.envs) > 1 or len(self.seeds) > 1 or bool(self.values)
                or bool(self.parts) or bool(self.toggles))


def english(request: str) -> str:
    """The request in English terms (Chinese connectives and verbs rewritten first)."""
    text = request
    for zh in sorted(ZH_WORDS, key=len, reverse=True):
        text = text.replace(zh, ZH_WORDS[zh])
    return to_english(text)


def find_envs(text: str) -> list[str]:
    """Every registered env named by id or by name, in order of mention."""
    folded = {e.lower(): e for e in catalog.registered_envs()}
    hits = [(m.start(), folded[m.group(1).lower()]) for m in ENV_TOKEN.finditer(text)
            if m.group(1).lower() in folded]
    masked = ENV_TOKEN.sub(lambda m: " " * len(m.group(0)), text)
    names = env_names()
    for m in re.finditer(r"(?<![A-Za-z0-9])(?=[A-Za-z])", masked):
        words = re.findall(r"[A-Za-z][A-Za-z0-9]*", masked[m.start():m.start() + 80])[:3]
        for size in range(len(words), 0, -1):
            joined = "".join(words[:size]).lower()
            if joined in names:
                cont = joined + "continuous"
                env = names[cont] if cont in names and _find(text, "continuous") else names[joined]
                hits.append((m.start(), env))
                break
    return _ordered(env for _, env in sorted(hits))


def _ordered(items) -> list:
    out: list = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def find_seeds(text: str) -> list[int]:
    """``3 seeds`` -> [0, 1, 2]; ``seeds 1 to 4`` -> [1, 2, 3, 4]; ``seeds 0, 5 and 7``."""
    m = re.search(r"\bseeds?\s*(?:from\s+)?(\d+)\s*(?:to|-|through|–|\.\.)\s*(\d+)\b", text, re.IGNORECASE)
    if m and int(m.group(1)) <= int(m.group(2)) <= int(m.group(1)) + 100:
        return list(range(int(m.group(1)), int(m.group(2)) + 1))
    m = re.search(r"\bseeds?\s*[\[(:=]?\s*(\d+(?:" + LIST_SEP + r"\d+)+)", text, re.IGNORECASE)
    if m:
        return _ordered(int(x) for x in re.findall(r"\d+", m.group(1)))
    m = re.search(r"(\d+)\s*(?:different\s+|random\s+|independent\s+)?(?:seeds|seed\b|runs each|runs per)",
                  text, re.IGNORECASE)
    if m and 1 < int(m.group(1)) <= 100:
        return list(range(int(m.group(1))))
    return []


def _value_lists(text: str) -> dict[str, list[Any]]:
    """``learning rates 1e-3 and 3e-4`` -> {"lr": [0.001, 0.0003]}."""
    out: dict[str, list[Any]] = {}
    phrases = sorted(((p, name) for name, ps in HYPER.items() if name != "hidden" for p in ps),
                     key=lambda pn: -len(pn[0]))
    for phrase, name in phrases:
        forms = [phrase, PLURALS.get(phrase, phrase + "s")]
        for form in forms:
            pat = re.escape(form).replace(r"\ ", r"[\s_-]*")
            m = re.search(rf"(?<![a-z0-9]){pat}(?![a-z0-9])\s*(?:of|=|:|in|from|at)?\s*[\[{{(]?\s*{NUM_LIST}",
                          text, re.IGNORECASE) or \
                re.search(rf"{NUM_LIST}\s*(?:as\s+(?:the\s+)?)?(?:{pat})(?![a-z0-9])", text, re.IGNORECASE)
            if m and name not in out:
                vals = [as_int(match_value(v)) for v in NUMBER_RE.finditer(m.group(1))]
                if len(set(vals)) > 1:
                    out[name] = _ordered(vals)
    return out


def _part_lists(text: str) -> dict[str, list[str]]:
    """``mlp and identity encoders`` -> {"encoder": ["mlp", "identity"]}."""
    out: dict[str, list[str]] = {}
    for role, keys in catalog.all_part_keys().items():
        if not keys:
            continue
        alt = "|".join(re.escape(k).replace("_", "[ _-]?") for k in sorted(keys, key=len, reverse=True))
        item = rf"(?:the\s+)?(?:{alt})"
        m = re.search(rf"\b({item}(?:{LIST_SEP}{item})+)\s+{role}s?\b", text, re.IGNORECASE) or \
            re.search(rf"\b{role}s?\s*(?::|=)?\s*({item}(?:{LIST_SEP}{item})+)\b", text, re.IGNORECASE)
        if m:
            order = _keys_in(m.group(1), keys)
            if len(order) > 1:
                out[role] = order
    return out


def _keys_in(text: str, keys: list[str]) -> list[str]:
    """The keys that occur in ``text``, in order of occurrence."""
    hits = []
    for key in keys:
        m = re.search(rf"(?<![a-z0-9]){re.escape(key).replace('_', '[ _-]?')}(?![a-z0-9])", text, re.IGNORECASE)
        if m:
            hits.append((m.start(), key))
    return [k for _, k in sorted(hits)]


def _toggles(text: str, facts_parts: dict[str, str]) -> list[str]:
    if not re.search(r"with and without|with or without|with vs\.? without|on and off|on vs\.? off|"
                     r"whether [^.]{0,60}\bhelps?\b|with(?:out)? it\b[^.]{0,20}with(?:out)? it", text, re.IGNORECASE):
        return []
    from copilot.codegen.terms import choice_values

    found = [name for name, (_, phrases) in FLAGS.items() if any(_find(text, p) for p in phrases)]
    found += [name for name in choice_values(text)[0] if name not in found]
    found += [f"{role}={key}" for role, key in facts_parts.items()]
    return found[:1]


def _post_steps(asked: Asked, text: str) -> None:
    if re.search(r"\bonnx\b", text, re.IGNORECASE):
        asked.exports.append("onnx")
    if re.search(r"torch\s*script|\btorch\.jit\b|\bjit\b", text, re.IGNORECASE):
        asked.exports.append("torchscript")
    if re.search(r"\b(?:re-?load|load|restor\w*)\b[^.]{0,60}\b(?:checkpoint|model|agent|policy|weights)\b|"
                 r"\b(?:saved|final|last)\s+(?:checkpoint|model|agent|policy)\b[^.]{0,40}evaluat|"
                 r"evaluat\w*\s+(?:the\s+|its\s+|that\s+)?(?:saved\s+|final\s+|last\s+|reloaded\s+)?checkpoint",
                 text, re.IGNORECASE) and re.search(r"evaluat|\btest\b", text, re.IGNORECASE):
        m = re.search(r"(\d+)\s*(?:\w+\s+)?episodes?", text, re.IGNORECASE)
        asked.evaluate_episodes = int(m.group(1)) if m else 10
    m = re.search(r"\b(?:continue|continuing|continued|resum\w*|keep training)\b[^.;]{0,50}?" + NUMBER +
                  r"\s*(?:more\s+)?(?:env\s+)?steps|(?:another|more|further|additional|an extra)\s+" + NUMBER +
                  r"\s*(?:more\s+)?(?:env\s+)?steps|" + NUMBER + r"\s*more\s+steps", text, re.IGNORECASE)
    if m:
        asked.more_steps = int(match_value(list(NUMBER_RE.finditer(m.group(0)))[-1]))
        rest = text[:m.start()] + " " * len(m.group(0)) + text[m.end():]
        from copilot.codegen.facts import find_steps

        asked.base_steps = find_steps(ENV_TOKEN.sub(lambda x: " " * len(x.group(0)), rest))


def _network(asked: Asked, text: str) -> None:
    from copilot.codegen.facts import find_hidden

    asked.hidden = find_hidden(ENV_TOKEN.sub(" ", text))
    for name in ACTIVATIONS:
        if _find(text, name):
            asked.activation = name.replace(" ", "")
            break


SENT = r"(?:[^.]|\.(?=\d))"  # sentence characters (a decimal point does not end a sentence)


def _code_asks(asked: Asked, text: str) -> None:
    reward = re.search(rf"{SENT}*(?:\breward\b{SENT}*\b(?:add\w*|subtract\w*|minus|plus|penal\w*|bonus|"
                       rf"instead of|multipl\w*|scal\w*|clip\w*|shap\w*|of -?\d|whenever|times)|\b(?:add\w*|"
                       rf"subtract\w*|penal\w*|scal\w*|multipl\w*|shap\w*)\b{SENT}*\breward){SENT}*", text, re.IGNORECASE)
    if reward and not re.search(r"reward normali[sz]|normali[sz]\w* (?:the )?rewards?|intrinsic|exploration bonus",
                                reward.group(0), re.IGNORECASE):
        asked.reward = reward.group(0).strip()
    env = re.search(rf"{SENT}*\b(?:custom|own|my own|new|toy|simple)\s+(?:gym(?:nasium)?\s+)?(?:env|environment)\b"
                    rf"{SENT}*(?:\.{SENT}*)?", text, re.IGNORECASE)
    if env:
        asked.custom_env = env.group(0).strip()


def read_asks(request: str, facts_parts: dict[str, str] | None = None) -> Asked:
    """Everything ``request`` asks for that code can read (see the module doc)."""
    text = english(request)
    asked = Asked(text=text)
    asked.algos = find_algos(text)
    asked.envs = find_envs(text)
    masked = ENV_TOKEN.sub(lambda m: " " * len(m.group(0)), text)
    asked.seeds = find_seeds(masked)
    asked.values = _value_lists(masked)
    asked.parts = _part_lists(masked)
    asked.toggles = _toggles(masked, facts_parts or {})
    if re.search(r"\biqm\b|interquartile", masked, re.IGNORECASE):
        asked.metric = "iqm"
    elif re.search(r"confidence interval|\bci\b|mean return|average return|error bars?|statistic", masked,
                   re.IGNORECASE):
        asked.metric = "mean"
    asked.compare = bool(re.search(r"\bcompar\w*|which (?:one |1 |of them )?(?:is |works |does |performs )?"
                                   r"(?:better|best)|\bbest\b|\bbenchmark\w*|\bversus\b|\bvs\.?\b|\bagainst\b|"
                                   r"whether [^.]{0,60}\bhelps?\b", masked, re.IGNORECASE))
    asked.plot = bool(re.search(r"\bplot\w*|\bfigure\b|\bchart\b|\bgraph\b|learning curves", masked, re.IGNORECASE))
    _post_steps(asked, masked)
    _network(asked, text)
    _code_asks(asked, text)
    asked.fix = bool(re.search(FIX_WORDS, masked, re.IGNORECASE)) or bool(re.search(r"reach(?:es)? the (?:flag|goal)",
                                                                                    masked, re.IGNORECASE))
    asked.tune = bool(re.search(TUNE_WORDS, masked, re.IGNORECASE))
    m = re.search(r"(?:^|\s)((?:\.{0,2}/|~/)?(?:[\w.-]+/)+[\w.-]+)/?(?=\s|$|[,;])", request)
    asked.run_path = m.group(1) if m and not ENV_TOKEN.fullmatch(m.group(1)) else None
    return asked
