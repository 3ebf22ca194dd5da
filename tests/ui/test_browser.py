"""The web UI in a real browser: Debian's Chromium driven by Playwright against ``python app.py``.

Everything is real: the default GGUF model, the Chroma index, the sandboxed training run.
Screenshots land in ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import time
import zipfile

import pytest

from ui_browser import Server, shot, wait_ready

pytestmark = pytest.mark.browser
ANSWER_S = 240  # one answer (queued behind at most one other) on a busy 2-core machine


def wait_text(page, selector: str, pattern: str, timeout_s: float = 30) -> str:
    """Wait until the text of ``selector`` matches the regular expression ``pattern``; return it."""
    page.wait_for_function(
        "([sel, pat]) => { const el = document.querySelector(sel);"
        " return !!el && new RegExp(pat).test(el.innerText); }", arg=[selector, pattern],
        timeout=timeout_s * 1000)
    return page.inner_text(selector)


def ask(page, question: str) -> None:
    page.fill("#chat-input textarea", question)
    page.click("#chat-send")


def wait_answers(page, count: int, timeout_s: float = ANSWER_S) -> None:
    """Wait until ``count`` answers are finished (their footer shows the total time) or one failed."""
    page.wait_for_function(
        "n => { const bot = document.querySelector('#chatbot');"
        " const done = [...bot.querySelectorAll('sub')].filter(e => /total [0-9.]+ s/.test(e.innerText));"
        " return done.length >= n || bot.innerText.includes('⚠'); }", arg=count, timeout=timeout_s * 1000)


def user_messages(page) -> list[str]:
    return [e.inner_text().strip() for e in page.locator('#chatbot [data-testid="user"]').all()]


def source_titles(page) -> list[str]:
    return [e.inner_text().strip() for e in page.locator("#chatbot .thought-group .title").all()]


def test_page_is_up_at_once_and_shows_the_model_loading(browser, ui_server: Server):
    assert ui_server.startup_s < 60, f"the page took {ui_server.startup_s:.1f} s to come up"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(ui_server.url)
    header = page.locator("#app-status")
    wait_text(page, "#app-status", "model: .+ · index: ", 15)
    shot(page, "01_start")
    t0 = time.monotonic()
    wait_ready(page)
    print(f"\npage up in {ui_server.startup_s:.1f} s; model and index ready "
          f"{time.monotonic() - t0:.1f} s later")
    assert "qwen2.5-coder-0.5b ready" in header.inner_text()
    context.close()


def test_the_page_needs_the_start_up_token(browser, ui_server: Server):
    base = ui_server.url.split("?", 1)[0]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    refused = page.goto(base)
    assert refused.status == 401 and "access token" in page.inner_text("body")
    assert page.goto(ui_server.url).status == 200  # the tokenised URL opens the app ...
    page.wait_for_selector("#chatbot")
    assert page.goto(base).status == 200  # ... and its cookie keeps it open without the token
    page.wait_for_selector("#chatbot")
    context.close()


@pytest.mark.slow
def test_question_gets_a_streamed_answer_with_cited_sources(page):
    t0 = time.monotonic()
    ask(page, "What does the clip range of PPO control?")
    page.wait_for_selector('#chatbot [data-testid="bot"]')
    wait_answers(page, 1)
    print(f"\nanswer in {time.monotonic() - t0:.1f} s")
    bot = page.inner_text("#chatbot")
    assert "⚠" not in bot and "does not cover" not in bot
    titles = source_titles(page)
    assert titles and all(re.match(r"\[\d+\] ", t) for t in titles), titles
    assert any("ppo" in t.lower() for t in titles), titles
    page.locator("#chatbot .thought-group .title").first.click()  # expand the first source
    page.wait_for_timeout(300)
    shot(page, "02_chat_cited_answer")
    assert user_messages(page) == ["What does the clip range of PPO control?"]


@pytest.mark.slow
def test_stop_regenerate_and_clear(page):
    ask(page, "Explain how DQN uses a target network.")
    page.wait_for_selector('#chatbot [data-testid="bot"]')
    page.click("#chat-stop")
    wait_text(page, "#chatbot", r"Stopped\.", ANSWER_S)
    page.click("#chat-regen")
    wait_text(page, "#chatbot", r"^(?![\s\S]*Stopped\.)")  # the stopped turn is gone
    page.click("#chat-stop")
    wait_text(page, "#chatbot", r"Stopped\.", ANSWER_S)
    assert user_messages(page) == ["Explain how DQN uses a target network."]
    shot(page, "03_chat_stopped")
    page.click("#chat-clear")
    page.wait_for_function("document.querySelectorAll('#chatbot [data-testid=\"user\"]').length == 0")


@pytest.mark.slow
def test_two_tabs_chat_at_once_without_mixing(browser, ui_server: Server):
    pages, questions = [], ["What is the discount factor gamma?", "PPO 的裁剪参数有什么作用？"]
    for _ in questions:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        pg = context.new_page()
        pg.set_default_timeout(30_000)
        pg.goto(ui_server.url)
        wait_ready(pg)
        pages.append(pg)
    for pg, q in zip(pages, questions):
        ask(pg, q)
    for pg in pages:
        wait_answers(pg, 1, timeout_s=2 * ANSWER_S)
    for i, (pg, q) in enumerate(zip(pages, questions)):
        assert user_messages(pg) == [q]
        other = questions[1 - i]
        assert other not in pg.inner_text("#chatbot")
        assert source_titles(pg), "every answer shows its sources"
        shot(pg, f"04_two_tabs_{'en' if i == 0 else 'zh'}")
    for pg in pages:
        pg.context.close()


@pytest.mark.slow
def test_switch_model_and_a_broken_one_keeps_the_previous(page, ui_server: Server, tmp_path):
    choice = page.locator("#model-choice input")

    def load(spec: str) -> str:
        page.get_by_role("tab", name="Models").click()
        choice.fill(spec)
        choice.press("Enter")
        before = page.inner_text("#model-status")
        page.click("#model-load")
        page.wait_for_function("b => { const t = document.querySelector('#model-status').innerText.trim();"
                               " return /^(●|✖)/.test(t) && t !== b.trim(); }", arg=before,
                               timeout=180_000)
        return page.inner_text("#model-status")

    good = str(ui_server.model_file)
    assert f"Now using {good}" in load(good)
    assert f"{good} ready" in page.inner_text("#app-status")
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"this is not a model")
    message = load(str(broken))
    assert "is not a GGUF file" in message and f"Still using {good}." in message
    assert "Traceback" not in message
    shot(page, "05_models_broken_switch")
    page.get_by_role("tab", name="Chat").click()
    ask(page, "What is an advantage function?")
    wait_answers(page, 1)
    footer = page.locator("#chatbot sub").last.inner_text()
    assert ui_server.model_file.name in footer.split(" · "), footer  # the previous model answered
    assert "broken.gguf" not in footer, footer
    assert "Now using qwen2.5-coder-0.5b" in load("qwen2.5-coder-0.5b")  # back to the default


@pytest.mark.slow
def test_generate_and_run_a_small_job_shows_the_curve(page):
    page.get_by_role("tab", name="Generate & Run").click()
    page.fill("#gen-request textarea", "Train PPO on CartPole-v1 for 3000 steps")
    t0 = time.monotonic()
    page.click("#gen-run-all")
    wait_text(page, "#gen-status", "Finished|✖", 420)
    print(f"\ngenerate + run in {time.monotonic() - t0:.1f} s")
    status = page.inner_text("#gen-status")
    assert "Finished: final evaluation return" in status, status + "\n" + page.inner_text("#gen-log")
    assert '"algo": "ppo"' in page.inner_text("#gen-spec")
    assert "make_agent" in page.inner_text("#gen-script")
    assert "100%" in page.inner_text("#gen-progress")
    page.wait_for_selector("#gen-curve img")
    assert "Final evaluation return" in page.inner_text("#gen-return")
    shot(page, "06_generate_and_run")
    with page.expect_download() as info:
        page.click("#gen-dl-run")
    archive = info.value.path()
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
    assert any(n.endswith("/run.json") for n in names) and any(n.endswith("/curve.png") for n in names)

    page.get_by_role("tab", name="Runs").click()
    wait_text(page, "#runs-table", "CartPole-v1")
    page.wait_for_selector("#runs-plot img, #runs-plot canvas, #runs-plot svg")
    shot(page, "07_runs")


@pytest.mark.slow
def test_an_experiment_shows_its_plan_runs_result_and_verdict(page):
    page.get_by_role("tab", name="Generate & Run").click()
    page.fill("#gen-request textarea", "Compare A2C and PPO on CartPole-v1 with 2 seeds each for 2000 steps")
    t0 = time.monotonic()
    page.click("#gen-run-all")
    wait_text(page, "#gen-plan", "pending", 240)  # the plan shows before the runs end
    wait_text(page, "#gen-runs", "queued|running|done", 240)
    wait_text(page, "#gen-status", "Finished|✖", 600)
    print(f"\nexperiment (4 runs) in {time.monotonic() - t0:.1f} s")
    status = page.inner_text("#gen-status")
    assert "Finished: all" in status, status + "\n" + page.inner_text("#gen-plan") + page.inner_text("#gen-log")
    assert "Runs: 4 of 4 finished" in page.inner_text("#gen-runs")
    assert "not done" not in page.inner_text("#gen-plan") and "✔ done" in page.inner_text("#gen-plan")
    result = page.inner_text("#gen-result")
    assert "Verdict:" in result and "★ best" in result
    page.wait_for_selector("#gen-curve img")
    shot(page, "06b_experiment")


@pytest.mark.slow
def test_edited_script_runs_and_can_be_cancelled(page, ui_server: Server):
    page.get_by_role("tab", name="Generate & Run").click()
    page.fill("#gen-request textarea", "Train PPO on CartPole-v1 for 200000 steps")
    page.click("#gen-generate")
    wait_text(page, "#gen-status", "Script ready|✖", ANSWER_S)
    assert "Script ready" in page.inner_text("#gen-status")
    editor = page.locator("#gen-script .cm-content")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n# edited in the browser\n")
    page.click("#gen-run")
    wait_text(page, "#gen-progress", "steps", 180)
    page.click("#gen-cancel")
    wait_text(page, "#gen-status", "✖", 60)
    assert "ancel" in page.inner_text("#gen-status")
    shot(page, "08_run_cancelled")
    scripts = (ui_server.home / "runs").glob("*/train.py")
    ran = [p for p in scripts if "edited in the browser" in p.read_text()]
    assert len(ran) == 1 and (ran[0].parent / "episodes.csv").exists()  # the edited script is what ran


def test_bad_requests_show_one_readable_sentence(page):
    page.get_by_role("tab", name="Generate & Run").click()
    page.click("#gen-generate")  # empty request
    wait_text(page, "#gen-status", "✖")
    status = page.inner_text("#gen-status")
    assert "The request is empty" in status and "Traceback" not in status
    page.fill("#gen-request textarea", "Train PPO on NoSuchGame-v9 for 5000 steps")
    page.click("#gen-generate")
    wait_text(page, "#gen-status", "✖.*NoSuchGame", ANSWER_S)
    status = page.inner_text("#gen-status")
    assert "is not a registered Gymnasium environment" in status and "Traceback" not in status
    shot(page, "09_bad_request")


def test_docs_search_filters_by_kind_and_opens_a_page(page):
    page.get_by_role("tab", name="Docs").click()
    page.fill("#docs-query textarea", "generalized advantage estimation lambda")
    page.locator("#docs-kinds label", has_text="paper").click()
    page.click("#docs-search")
    page.wait_for_selector("#docs-results .cp-hit")
    kinds = [e.inner_text() for e in page.locator("#docs-results .cp-kind").all()]
    assert kinds and set(kinds) == {"paper"}
    assert "corpus/papers/gae.md" in page.inner_text("#docs-results")
    page.click("#docs-open input")
    page.get_by_role("option").first.click()
    page.wait_for_selector("#docs-page h1, #docs-page h2")
    assert "Generalized Advantage Estimation" in page.inner_text("#docs-page")
    shot(page, "10_docs")


def test_models_tab_lists_models_and_reingests(page):
    page.get_by_role("tab", name="Models").click()
    table = page.inner_text("#models-table")
    assert "qwen2.5-coder-0.5b" in table and "491 MB" in table
    assert "all-minilm-l6-v2" in page.inner_text("#index-info")
    page.click("#reingest")
    wait_text(page, "#ingest-status", "Index up to date|✖", 300)
    status = page.inner_text("#ingest-status")
    assert re.search(r"Index up to date: \d+ chunks", status), status
    shot(page, "11_models")
