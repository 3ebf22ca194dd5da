"""Code a spec cannot say: reward changes and small custom environments, filled from templates.

A reward change is read from the request's sentence into one Python expression over
``reward``, ``obs`` and ``action`` (a constant per step, adding or subtracting a constant,
a bonus when an observation field crosses a value, scaling, clipping) and wrapped in a
``gymnasium.Wrapper``. A custom environment is a ``gymnasium.Env`` subclass (grid worlds
of any size). ``make_written_env()`` builds either; the script registers it under a new id (or hands
it to the experiment as an env factory), so every rlcore path builds it by name. What no template covers is refused
with one sentence, never replaced by something else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from copilot.codegen.errors import Impossible
from copilot.codegen.numbers import NUMBER, NUMBER_RE, match_value

# Observation fields of classic-control tasks that requests name (env base name -> word -> code).
OBS_FIELDS = {
    "MountainCar": {"position": "obs[0]", "velocity": "obs[1]", "speed": "abs(obs[1])"},
    "MountainCarContinuous": {"position": "obs[0]", "velocity": "obs[1]", "speed": "abs(obs[1])"},
    "CartPole": {"position": "obs[0]", "velocity": "obs[1]", "angle": "obs[2]", "angular velocity": "obs[3]"},
    "Pendulum": {"angle": "float(np.arctan2(obs[1], obs[0]))", "angular velocity": "obs[2]",
                 "velocity": "obs[2]"},
}
SUPPORTED_REWARDS = ("a constant reward per step ('a reward of -1 on every step'), adding or subtracting a "
                     "constant ('subtract a penalty of 0.01'), a bonus when an observation field crosses a value "
                     "('add 0.1 whenever the velocity is positive'), scaling or clipping the reward")
DEFAULT_PENALTY = 0.01
SIGNED = r"(-?\s*" + NUMBER + ")"


@dataclass
class Written:
    """Code to put in a script: definitions, the env id they register, and a description."""

    code: str
    env_id: str
    detail: str
    check_env: bool = False


def _num(text: str) -> float:
    m = NUMBER_RE.search(text)
    value = match_value(m)
    return -value if re.match(r"\s*-", text) else value


def _condition(text: str, env_id: str) -> tuple[str, str] | None:
    """(code, words) of a condition such as "the velocity is positive" on ``env_id``'s observation."""
    base = re.sub(r"-v\d+$", "", env_id)
    fields = OBS_FIELDS.get(base, {})
    for word in sorted(fields, key=len, reverse=True):
        m = re.search(rf"\b{word}\b\s*(?:is\s+|becomes\s+|gets\s+)?(positive|negative|(?:above|greater than|over|"
                      rf"more than|>)\s*{SIGNED}|(?:below|less than|under|<)\s*{SIGNED})", text, re.IGNORECASE)
        if not m:
            continue
        how, code = m.group(1).lower(), fields[word]
        if how in ("positive", "negative"):
            op, value = (">", 0) if how == "positive" else ("<", 0)
        else:
            op, value = (">" if how[0] in "ago>m" else "<"), _num(how[re.search(r"[-\d.]", how).start():])
        return f"{code} {op} {value!r}", f"the {word} ({code}) is {op} {value:g}"
    return None


def reward_expression(sentence: str, env_id: str) -> tuple[str, str]:
    """(expression over reward/obs/action, plain description) for a reward-change sentence."""
    s = sentence.lower()
    m = re.search(r"reward of\s*" + SIGNED + r"\s*(?:on|at|for|per|in)\s+(?:every|each)\s+(?:time\s*)?step", s) or \
        re.search(r"(?:every|each)\s+step[^.]{0,30}?reward of\s*" + SIGNED, s)
    if m:
        v = _num(m.group(1))
        return f"{v!r}", f"a constant reward of {v:g} on every step"
    m = re.search(r"(?:add\w*|plus|bonus of)\s*" + SIGNED + r"[^.]{0,40}?(?:whenever|when|if|while)\s+(.*)", s)
    if m:
        cond = _condition(m.group(m.lastindex), env_id)
        if cond is None:
            raise Impossible(f"The condition in {sentence!r} names no observation field of {env_id} this "
                             f"template knows; accepted: {', '.join(OBS_FIELDS.get(re.sub(r'-v[0-9]+$', '', env_id), {})) or 'none for this env'}.")
        v = _num(m.group(1))
        return f"reward + ({v!r} if {cond[0]} else 0.0)", f"reward + {v:g} whenever {cond[1]}"
    m = re.search(r"(?:multipl\w*|scal\w*)[^.]{0,30}?\bby\s*" + SIGNED, s)
    if m:
        v = _num(m.group(1))
        return f"reward * {v!r}", f"the reward multiplied by {v:g}"
    m = re.search(r"clip\w*[^.]{0,30}?(?:to|into|between)\s*\[?\s*" + SIGNED + r"\s*(?:,|and|to)\s*" + SIGNED, s)
    if m:
        lo, hi = _num(m.group(1)), _num(m.group(m.lastindex))
        return f"float(np.clip(reward, {lo!r}, {hi!r}))", f"the reward clipped to [{lo:g}, {hi:g}]"
    return _add_or_subtract(sentence, s)


def _add_or_subtract(sentence: str, s: str) -> tuple[str, str]:
    m = re.search(r"(?:subtract\w*|minus|penal\w*|deduct\w*)\s*(?:a\s+|an\s+)?(?:penalty\s+|cost\s+)?(?:of\s+)?"
                  + SIGNED + "?", s)
    if m:
        v = abs(_num(m.group(1))) if m.group(1) else DEFAULT_PENALTY
        chosen = "" if m.group(1) else f" (the request gives no size; {DEFAULT_PENALTY} chosen)"
        if re.search(r"\baction", s) and re.search(r"squar|magnitude|size|norm|large", s):
            return (f"reward - {v!r} * float(np.sum(np.square(action)))",
                    f"reward - {v:g} x the squared action{chosen}")
        return f"reward - {v!r}", f"reward - {v:g} on every step{chosen}"
    m = re.search(r"(?:add\w*|plus|bonus of)\s*" + SIGNED, s)
    if m:
        v = _num(m.group(1))
        return f"reward + {v!r}", f"reward + {v:g} on every step"
    raise Impossible(f"The reward change {sentence.strip()!r} matches no reward template; accepted: "
                     f"{SUPPORTED_REWARDS}.")


def custom_id(base: str, suffix: str) -> str:
    name = re.sub(r"-v\d+$", "", base.split("/")[-1])
    return f"{name}{suffix}-v0"


def reward_wrapper(sentence: str, env_id: str) -> Written:
    """A gymnasium.Wrapper applying the reward change; ``make_written_env`` builds the changed env."""
    expr, detail = reward_expression(sentence, env_id)
    new_id = custom_id(env_id, "RewardChanged")
    code = f'''class RewardChange(gymnasium.Wrapper):
    """{detail[0].upper() + detail[1:]} (the request: {_quote(sentence)})."""

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, {expr}, terminated, truncated, info


def make_written_env(**kwargs):
    """{env_id} with the changed reward."""
    return RewardChange(gymnasium.make({env_id!r}, **kwargs))
'''
    return Written(code, new_id, detail)


def _quote(text: str) -> str:
    return " ".join(text.replace('"', "'").replace("\\", "/").split())[:160]


def grid_env(sentence: str) -> Written:
    """A grid-world ``gymnasium.Env`` (``N x N``, start in a corner, reach the opposite one)."""
    m = re.search(r"(\d+)\s*(?:x|×|by|\*)\s*(\d+)", sentence, re.IGNORECASE)
    if not re.search(r"\bgrid", sentence, re.IGNORECASE) or not m or m.group(1) != m.group(2):
        raise Impossible("Only square grid-world custom environments can be written here (e.g. 'a 5x5 grid "
                         "where the agent starts in one corner and must reach the opposite corner'); "
                         f"{_quote(sentence)!r} is not one.")
    size = int(m.group(1))
    if not 2 <= size <= 50:
        raise Impossible(f"A {size}x{size} grid is outside what this template builds; accepted: 2x2 to 50x50.")
    limit = 4 * size * size
    code = f'''class GridEnv(gymnasium.Env):
    """A {size}x{size} grid: start at (0, 0), reach ({size - 1}, {size - 1}); -0.01 per move, +1 at the goal."""

    metadata = {{"render_modes": []}}

    def __init__(self, size={size}):
        self.size = size
        self.observation_space = gymnasium.spaces.Box(0.0, 1.0, shape=(2,), dtype=np.float32)
        self.action_space = gymnasium.spaces.Discrete(4)  # right, down, left, up
        self.pos = np.zeros(2, dtype=np.int64)

    def _obs(self):
        return (self.pos / (self.size - 1)).astype(np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = np.zeros(2, dtype=np.int64)
        return self._obs(), {{}}

    def step(self, action):
        move = ((0, 1), (1, 0), (0, -1), (-1, 0))[int(action)]
        self.pos = np.clip(self.pos + np.array(move), 0, self.size - 1)
        reached = bool((self.pos == self.size - 1).all())
        return self._obs(), (1.0 if reached else -0.01), reached, False, {{}}


def make_written_env(**kwargs):
    """The grid world, episodes capped at {limit} moves."""
    return gymnasium.wrappers.TimeLimit(GridEnv(**kwargs), max_episode_steps={limit})
'''
    return Written(code, f"GridWorld{size}x{size}-v0", f"a {size}x{size} grid world (gymnasium.Env subclass, "
                   f"episodes capped at {limit} moves)", check_env=True)


def smoke_block(check: bool) -> list[str]:
    """Lines that check the written env (Gymnasium's checker) and step it before training."""
    lines = []
    if check:
        lines += ["check_env(GridEnv())  # Gymnasium's env checker: spaces, reset/step signatures, seeding"]
    lines += ["smoke = make_written_env()  # smoke run: 200 random steps before the full run",
              "obs, _ = smoke.reset(seed=0)",
              "for _ in range(200):",
              "    obs, r, term, trunc, _ = smoke.step(smoke.action_space.sample())",
              "    assert np.isfinite(r), 'the written env returned a non-finite reward'",
              "    if term or trunc:",
              "        obs, _ = smoke.reset()",
              'print("smoke run of the written env: ok")']
    return lines
