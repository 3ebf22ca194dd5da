"""Pure HTML for an experiment in the Generate tab: the plan, the runs, the result, what was not done.

Built from the generator's events (``plan``, ``run``, ``report``, ``done``) as folded into a
:class:`~copilot.ui.jobs.JobView`; nothing here imports gradio, so each piece is unit-tested.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any, Iterable, Mapping

SHOWN_ELSEWHERE = ("script", "plot")  # the tab's script editor and picture already show these
RUN_STATES = {"queued": ("◌", "queued"), "running": ("▶", "running"), "done": ("✔", "done"),
              "failed": ("✖", "failed"), "skipped": ("↷", "skipped (already finished)")}


def _e(value: Any) -> str:
    return html.escape(str(value))


def ask_state(done: bool | None, finished: bool) -> str:
    """``done``, ``not-done`` or ``pending``: an ask still unverified when the job ends is not done."""
    if done is True:
        return "done"
    if done is False or finished:
        return "not-done"
    return "pending"


def plan_html(asks: list[Mapping[str, Any]], finished: bool = False) -> str:
    """The asks the request was split into, each with its state and detail."""
    if not asks:
        return ""
    marks = {"done": ("✔", "done"), "not-done": ("✖", "not done"), "pending": ("◌", "pending")}
    rows = []
    for ask in asks:
        state = ask_state(ask.get("done"), finished)
        icon, word = marks[state]
        detail = f'<div class="cp-ask-detail">{_e(ask["detail"])}</div>' if ask.get("detail") else ""
        rows.append(f'<li class="cp-ask cp-ask-{state}"><span class="cp-ask-mark">{icon} {word}</span>'
                    f'<div><div class="cp-ask-text">{_e(ask.get("ask", ""))}</div>{detail}</div></li>')
    done = sum(1 for a in asks if a.get("done") is True)
    head = f"Plan: {done} of {len(asks)} asks done" if finished else f"Plan: {len(asks)} asks"
    return f'<div class="cp-plan"><div class="cp-section">{head}</div><ul>{"".join(rows)}</ul></div>'


def not_done_html(asks: list[Mapping[str, Any]], finished: bool) -> str:
    """A plain-words box listing what was not done (shown once the job has ended)."""
    missing = [a for a in asks if ask_state(a.get("done"), finished) == "not-done"]
    if not finished or not missing:
        return ""
    items = "".join(f"<li><b>{_e(a.get('ask', ''))}</b>"
                    f"{': ' + _e(a['detail']) if a.get('detail') else ' (not verified)'}</li>" for a in missing)
    word = "ask was" if len(missing) == 1 else "asks were"
    return (f'<div class="cp-notdone"><div class="cp-section">✖ Not done: {len(missing)} {word} not '
            f'carried out</div><ul>{items}</ul></div>')


def _number(value: Any, digits: int = 1) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return "–"
    return f"{value:,.{digits}f}"


def _mini_bar(step: Any, total: Any) -> str:
    if not isinstance(total, (int, float)) or not total:
        return '<span class="cp-muted">–</span>'
    step = step if isinstance(step, (int, float)) else 0
    frac = max(0.0, min(1.0, step / total))
    return (f'<div class="cp-mini"><div class="cp-bar" style="width:{frac * 100:.0f}%"></div>'
            f'<span>{int(step):,} / {int(total):,}</span></div>')


def runs_html(runs: Iterable[Mapping[str, Any]]) -> str:
    """The table of runs with live progress: label, seed, state, step/total, final return."""
    runs = list(runs)
    if not runs:
        return ""
    rows = []
    for run in runs:
        state = str(run.get("state") or "queued")
        icon, word = RUN_STATES.get(state, ("•", state))
        error = f'<div class="cp-run-error">{_e(run["error"])}</div>' if run.get("error") else ""
        rows.append(f'<tr class="cp-run-{_e(state)}"><td>{_e(run.get("label") or run.get("group") or "run")}'
                    f'</td><td>{_e(run.get("seed", "–"))}</td><td class="cp-state">{icon} {_e(word)}{error}</td>'
                    f'<td>{_mini_bar(run.get("step"), run.get("total"))}</td>'
                    f'<td class="cp-num">{_number(run.get("return_mean"))}</td></tr>')
    done = sum(1 for r in runs if r.get("state") in ("done", "skipped"))
    failed = sum(1 for r in runs if r.get("state") == "failed")
    head = f"Runs: {done} of {len(runs)} finished" + (f", {failed} failed" if failed else "")
    return (f'<div class="cp-runs"><div class="cp-section">{head}</div><table><thead><tr><th>run</th>'
            f'<th>seed</th><th>state</th><th>steps</th><th>final return</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def _groups_table(report: Mapping[str, Any]) -> str:
    groups = report.get("groups") or {}
    if not groups:
        return ""
    best = report.get("best")
    rows = []
    for label, g in groups.items():
        g = g if isinstance(g, Mapping) else {}
        star = ' <span class="cp-best">★ best</span>' if label == best else ""
        runs = g.get("runs")
        count = len(runs) if isinstance(runs, list) else runs
        rows.append(f'<tr><td>{_e(label)}{star}</td><td class="cp-num">{_number(g.get("point"))}</td>'
                    f'<td class="cp-num">[{_number(g.get("lower"))}, {_number(g.get("upper"))}]</td>'
                    f'<td class="cp-num">{_e(count if count is not None else "–")}</td></tr>')
    metric = _e(report.get("metric") or "score")
    return (f'<table><thead><tr><th>group</th><th>{metric}</th><th>95% interval</th><th>runs</th></tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table>')


def result_html(report: Mapping[str, Any] | None, evaluations: list[Mapping[str, Any]] | None = None,
                artifacts: Mapping[str, str] | None = None) -> str:
    """The aggregated result (groups with point and interval), the verdict, evaluations, files."""
    parts = []
    if report:
        parts.append(_groups_table(report))
        if report.get("verdict"):
            parts.append(f'<p class="cp-verdict"><b>Verdict:</b> {_e(report["verdict"])}</p>')
    for ev in evaluations or []:
        where = Path(str(ev.get("checkpoint") or ev.get("run_dir") or "the checkpoint")).name
        parts.append(f'<p class="cp-eval">Evaluation of {_e(where)} over {_e(ev.get("episodes", "?"))} '
                     f'episodes: {_number(ev.get("return_mean"))} ± {_number(ev.get("return_std"))}</p>')
    files = {k: v for k, v in (artifacts or {}).items() if v and k not in SHOWN_ELSEWHERE}
    if files:
        items = "".join(f"<li><b>{_e(k)}</b>: <code>{_e(v)}</code></li>" for k, v in files.items())
        parts.append(f'<div class="cp-files">Files:<ul>{items}</ul></div>')
    if not parts:
        return ""
    return f'<div class="cp-result"><div class="cp-section">Result</div>{"".join(parts)}</div>'
