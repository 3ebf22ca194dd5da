"""The index in a Chroma server (``chroma_url``): one client ingests, others search.

A real ``chroma run`` listens on a loopback port for this module. The writer ingests from its
own folder; the readers have empty folders of their own and find the collections, the
manifest and (rebuilt from the server's documents) BM25 through the server alone. The
search tests of ``test_index.py`` run again here against such a reader.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from copilot.config import ConfigError, Settings, load_settings
from copilot.generations import StoreUnreachable, lexical_files, read_manifest, server_generations
from copilot.index import Index, SearchError
from copilot.ingest import ingest
from servers import wait_until_serving

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _index_tests():
    spec = importlib.util.spec_from_file_location("index_tests_on_a_server", HERE / "test_index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_T = _index_tests()
# the same search tests, with this module's `world` (a reader of the server)
test_hits_carry_fields_scores_and_relevance = _T.test_hits_carry_fields_scores_and_relevance
test_identifier_queries_find_symbols = _T.test_identifier_queries_find_symbols
test_kind_filter = _T.test_kind_filter
test_chinese_questions_reach_english_sources = _T.test_chinese_questions_reach_english_sources


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chroma_binary() -> str:
    found = Path(sys.executable).with_name("chroma")
    return str(found) if found.exists() else (shutil.which("chroma") or pytest.fail("no chroma command"))


@contextlib.contextmanager
def running_chroma(folder: Path) -> Iterator[str]:
    """A `chroma run` on a free loopback port, its URL; killed (its whole process group) at the end."""
    port = free_port()
    log = open(folder / "server.log", "wb")
    proc = subprocess.Popen([chroma_binary(), "run", "--path", str(folder / "db"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/api/v2/heartbeat", proc, folder / "server.log", "chroma run", timeout=60)
        yield url
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    with running_chroma(tmp_path_factory.mktemp("chroma-server")) as url:
        yield url


@pytest.fixture(scope="module")
def served(tmp_path_factory, chroma_url):
    """(writer settings, reader settings, root): the world of test_index ingested into the server."""
    root = tmp_path_factory.mktemp("served")
    writer, pkg = _T.write_world(root)
    writer.chroma_url = chroma_url
    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(str(pkg))
    ingest(None, writer, progress=False, api_packages=("demo_rl",))
    user = root / "mine.txt"
    user.write_text("My own note: the cartpole run diverged after the learning rate warmup.")
    ingest([str(user)], writer, progress=False)
    reader = Settings(home=root / "reader", corpus=writer.corpus, chroma_url=chroma_url)
    yield writer, reader, root
    mp.undo()


@pytest.fixture(scope="module")
def world(served):
    _, reader, _ = served
    return reader, Index.open(reader)


def test_the_server_holds_the_index_and_the_folders_only_caches(served):
    writer, reader, _ = served
    manifest = read_manifest(reader.index_dir)
    assert manifest is not None and manifest["state"] == "ready" and manifest["counts"]["chunks"] > 20
    assert server_generations(reader.index_dir) == [manifest["generation"]]
    for settings in (writer, reader):
        assert not (settings.index_dir / "manifest.json").exists()
        assert not (settings.index_dir / "chroma").exists()
        assert not Settings(home=settings.home).index_dir.exists()
    local = Settings(home=reader.home)  # the same home without the server: no index there
    with pytest.raises(SearchError, match="No index found"):
        Index.open(local)


def test_a_reader_sees_what_is_ingested_later(served, world):
    writer, reader, root = served
    _, index = world
    assert all(path.is_file() for path in lexical_files(reader.index_dir))  # BM25 cached for codegen's snippets
    assert all("sourdough" not in h.text for h in index.search("sourdough starter hydration", k=3))
    note = root / "bread.txt"
    note.write_text("Sourdough starter: keep its hydration at 100 percent and feed it daily.")
    ingest([str(note)], writer, progress=False)
    hits = index.search("sourdough starter hydration", k=3)
    assert hits[0].kind == "user" and "hydration" in hits[0].text


def test_a_rebuild_replaces_the_generation_in_the_server(tmp_path):
    corpus = tmp_path / "corpus" / "docs"
    corpus.mkdir(parents=True)
    (corpus / "a.md").write_text("# Alpha\n\nAlpha pages talk about replay buffers.\n")
    (tmp_path / "server").mkdir()
    with running_chroma(tmp_path / "server") as url:
        settings = Settings(home=tmp_path / "home", corpus=[str(corpus.parent)], chroma_url=url)
        ingest(None, settings, progress=False, api_packages=())
        first = read_manifest(settings.index_dir)["generation"]
        (corpus / "b.md").write_text("# Beta\n\nBeta pages talk about target networks.\n")
        ingest(None, settings, rebuild=True, progress=False, api_packages=())
        now = read_manifest(settings.index_dir)
        assert now["generation"] > first and server_generations(settings.index_dir) == [now["generation"]]
        reader = Index.open(Settings(home=tmp_path / "other", chroma_url=url))
        assert reader.search("target networks", k=1)[0].path == "corpus/docs/b.md"
        assert reader.search("replay buffers", k=1)[0].path == "corpus/docs/a.md"


def test_another_process_searches_through_the_cli(tmp_path, chroma_url):
    env = {**os.environ, "COPILOT_CHROMA_URL": chroma_url, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "copilot", "--home", str(tmp_path / "elsewhere"), "search",
                          "replay buffers", "--json"], env=env, capture_output=True, text=True, timeout=300,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    results = json.loads(out.stdout.strip().splitlines()[-1])["results"]
    assert results and "replay" in results[0]["text"].lower()
    assert "Building the search index" not in out.stderr  # the server's index was found, not rebuilt


def test_an_unreachable_or_malformed_server_is_one_sentence(tmp_path):
    settings = Settings(home=tmp_path, chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StoreUnreachable, match=r"The Chroma server at 'http://127.0.0.1:\d+' does not answer; "
                                               r"start it \(chroma run"):
        Index.open(settings)
    with pytest.raises(ConfigError, match="The chroma_url setting 'ftp://host' is not a Chroma server address; "
                                          "accepted: http://HOST:PORT"):
        load_settings({"chroma_url": "ftp://host"}, use_env=False, use_file=False)
    assert load_settings({"chroma_url": "http://10.0.0.5:8001"}, use_env=False, use_file=False).chroma_url
