"""Ingest: loaders, structure-aware splitting, the API reference, the manifest and re-ingest."""

from __future__ import annotations

import hashlib
import json
import textwrap
import warnings
from pathlib import Path

import pytest

from copilot.apiref import api_reference
from copilot.chunking import CAP, Block, pack, split_markdown, split_python, split_rst
from copilot.config import Settings
from copilot.embeddings import get_embedder, packaged_model_dir
from copilot.generations import lexical_files
from copilot.index import Index, SearchError, read_manifest
from copilot.ingest import IngestError, ingest
from copilot.loaders import html_to_markdown, load


def tiny_pdf(lines: list[str], title: str = "Tiny Paper") -> bytes:
    """A one-page PDF with Helvetica text, written byte by byte (no PDF library needed)."""
    shown = " ".join(f"({line}) Tj T*" for line in lines)
    stream = f"BT /F1 12 Tf 72 720 Td 14 TL {shown} ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Title (%s) >>" % title.encode(),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


MARKDOWN = textwrap.dedent("""\
    # PPO

    Proximal policy optimisation in one page.

    ## Clipping

    The ratio is clipped to `clip_range`.

    ```python
    # this comment is not a heading
    ratio = (logp - old_logp).exp()
    ```

    ### Why clip

    Large steps destroy the policy.
    """)

RST = textwrap.dedent("""\
    ==========
    Rollouts
    ==========

    Storage keeps transitions.

    Buffers
    -------

    Use it like this::

        buf = RolloutStorage(128)

        buf.add(obs)

    After the block.
    """)

PYTHON = textwrap.dedent('''\
    """Training helpers."""
    import math

    RATE = 3e-4


    def linear_schedule(start: float, end: float):
        """Anneal linearly."""
        return lambda f: start + f * (end - start)


    class Runner:
        """Runs episodes."""

        def run(self):
            return 1
    ''')

HTML = """<html><head><title>SAC notes</title><style>.x{color:red}</style></head><body>
<h1>Soft Actor-Critic</h1><p>Entropy-regularised <b>off-policy</b> learning.</p>
<script>alert('no')</script><h2>Temperature</h2><p>Alpha is tuned automatically.</p>
<pre>alpha_loss = -(log_alpha * (logp + target)).mean()
print(alpha_loss)</pre></body></html>"""


def write_corpus(root: Path) -> Path:
    corpus = root / "corpus"
    for sub in ("docs", "tutorials", "papers", "faq"):
        (corpus / sub).mkdir(parents=True)
    (corpus / "docs" / "ppo.md").write_text(MARKDOWN)
    (corpus / "docs" / "rollouts.rst").write_text(RST)
    (corpus / "tutorials" / "schedules.py").write_text(PYTHON)
    (corpus / "tutorials" / "sac.html").write_text(HTML)
    (corpus / "papers" / "per.pdf").write_bytes(tiny_pdf(["Prioritized replay samples by TD error."]))
    (corpus / "faq" / "seeds.txt").write_text("Why do runs differ?\n\nSet the seed for numpy and torch.")
    (corpus / "faq" / "image.png").write_bytes(b"\x89PNG not ingested")
    return corpus


def write_package(root: Path) -> str:
    pkg = root / "pkgroot" / "tinyrl"
    (pkg / "agents").mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""Tiny RL."""\nfrom tinyrl.agents.ppo import PPO\n')
    (pkg / "agents" / "__init__.py").write_text("")
    (pkg / "agents" / "ppo.py").write_text(textwrap.dedent('''\
        class PPO:
            """Clipped policy optimisation."""

            def __init__(self, clip_range: float = 0.2):
                self.clip_range = clip_range

            def update(self, batch) -> dict:
                """One gradient step; returns losses."""
                return {}

            def _private(self):
                pass


        def gae(rewards, gamma: float = 0.99, gae_lambda: float = 0.95):
            """Generalised advantage estimation."""
            return rewards
        '''))
    (pkg / "broken.py").write_text("raise RuntimeError('half written')\n")
    (pkg / "_hidden.py").write_text("raise SystemExit('must never be imported')\n")
    return str(root / "pkgroot")


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(write_package(tmp_path))
    corpus = write_corpus(tmp_path)
    settings = Settings(home=tmp_path / "home", corpus=[str(corpus)])
    return settings, corpus


class CountingEmbedder:
    """The real embedder, counting how many texts it embeds."""

    def __init__(self, inner):
        self.inner, self.name, self.documents = inner, inner.name, 0

    @property
    def dim(self):
        return self.inner.dim

    def embed_documents(self, texts):
        self.documents += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text):
        return self.inner.embed_query(text)

    def as_langchain(self):
        return self.inner.as_langchain()


def run(settings, paths=None, **kw):
    return ingest(paths, settings, progress=False, api_packages=("tinyrl",), **kw)


# ----- splitting and loading, no index -----
def test_markdown_split_by_heading_path_with_code_whole():
    pieces = split_markdown(MARKDOWN, "ppo")
    titles = [p.title for p in pieces]
    assert titles == ["PPO", "PPO > Clipping", "PPO > Clipping > Why clip"]
    assert "# this comment is not a heading\nratio" in pieces[1].text
    assert pieces[1].text.count("```") == 2 and pieces[2].heading == "Why clip"


def test_long_sections_are_capped_with_overlap_and_code_never_cut():
    paras = [Block(f"Paragraph {i} says something about advantages. " * 6) for i in range(12)]
    code = Block("```\n" + "x = 1\n" * 400 + "```", whole=True)
    texts = pack(paras + [code] + paras[:2])
    prose = [t for t in texts if "```" not in t]
    assert len(texts) > 4 and all(len(t) <= CAP for t in prose)
    assert any(t == code.text for t in texts)  # the long code block is one whole chunk
    first, second = prose[0], prose[1]
    assert second[:40] in first  # the next chunk starts with the tail of the previous one


def test_rst_sections_and_literal_blocks():
    pieces = split_rst(RST, "rollouts")
    assert [p.title for p in pieces] == ["Rollouts", "Rollouts > Buffers"]
    assert pieces[1].text == ("Use it like this::\n\n    buf = RolloutStorage(128)\n\n    buf.add(obs)"
                              "\n\nAfter the block.")


def test_python_split_by_top_level_symbols():
    pieces = split_python(PYTHON, "tutorials.schedules")
    by_symbol = {p.symbol: p for p in pieces}
    assert pieces[0].text == "Training helpers." and pieces[0].symbol is None
    assert by_symbol["linear_schedule"].title == "tutorials.schedules.linear_schedule"
    assert by_symbol["Runner"].text.startswith("class Runner:") and "def run" in by_symbol["Runner"].text
    assert any("RATE = 3e-4" in p.text and "import math" in p.text for p in pieces)
    big = "class Big:\n" + "".join(f"    def m{i}(self):\n        return '{'y' * 200}'\n" for i in range(20))
    symbols = [p.symbol for p in split_python(big, "big")]
    assert symbols[0] == "Big" and "Big.m19" in symbols
    assert split_python("def broken(:\n  pass", "bad")[0].text.startswith("def broken")


def test_html_pdf_and_text_loaders(tmp_path):
    title, text = html_to_markdown(HTML)
    assert title == "SAC notes" and "alert" not in text and "color:red" not in text
    assert "# Soft Actor-Critic" in text and "```\nalpha_loss = -(log_alpha" in text
    (tmp_path / "sac.html").write_text(HTML)
    pieces = load(tmp_path / "sac.html", "sac")
    assert pieces[-1].title == "Soft Actor-Critic > Temperature" and "print(alpha_loss)" in pieces[-1].text
    (tmp_path / "p.pdf").write_bytes(tiny_pdf(["Line one about replay.", "Line two."], title="PER"))
    pdf = load(tmp_path / "p.pdf", "p")
    assert pdf[0].title == "PER > page 1" and "Line one about replay." in pdf[0].text
    (tmp_path / "n.txt").write_text("alpha\n\nbeta")
    assert load(tmp_path / "n.txt", "n")[0].text == "alpha\n\nbeta"


def test_api_reference_walks_package_and_skips_broken_modules(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(write_package(tmp_path))
    with pytest.warns(UserWarning, match="tinyrl.broken"):
        ref = api_reference("tinyrl")
    assert ref.failed == ["tinyrl.broken"] and "tinyrl._hidden" not in ref.modules
    symbols = [p.symbol for p in ref.modules["tinyrl.agents.ppo"]]
    assert symbols == ["tinyrl.agents.ppo.PPO", "tinyrl.agents.ppo.PPO.update", "tinyrl.agents.ppo.gae"]
    assert ref.modules["tinyrl"] == []  # PPO is re-exported there, not defined there
    ppo = ref.modules["tinyrl.agents.ppo"][0]
    assert "PPO(clip_range: float = 0.2)" in ppo.text and "Clipped policy optimisation." in ppo.text
    assert "Methods: update" in ppo.text
    with pytest.warns(UserWarning, match="no_such_package_here"):
        missing = api_reference("no_such_package_here")
    assert not missing.imported and missing.modules == {}


# ----- ingest into a real Chroma index -----
def test_ingest_every_file_type_with_kinds_ids_and_manifest(setup):
    settings, corpus = setup
    with pytest.warns(UserWarning, match="tinyrl.broken"):
        summary = run(settings)
    assert summary["added"] == summary["files_seen"] == 6 + 1  # six files, one API module with symbols
    manifest = read_manifest(settings.index_dir)
    assert manifest["embedder"] == {"name": "all-minilm-l6-v2", "dim": 384}
    entry = manifest["sources"][str(corpus / "docs" / "ppo.md")]
    assert entry["kind"] == "doc" and entry["path"] == "corpus/docs/ppo.md" and len(entry["chunks"]) == 3
    kinds = {e["path"]: e["kind"] for e in manifest["sources"].values()}
    assert kinds["corpus/papers/per.pdf"] == "paper" and kinds["corpus/faq/seeds.txt"] == "faq"
    assert kinds["corpus/tutorials/sac.html"] == "tutorial" and kinds["tinyrl.agents.ppo"] == "api"
    assert manifest["counts"]["chunks"] == summary["chunks"] == Index.open(settings).count()
    got = Index.open(settings).store.get(ids=entry["chunks"][:1])
    text = got["documents"][0]
    assert entry["chunks"][0] == hashlib.sha256(f"docs/ppo.md\n{text}".encode()).hexdigest()
    assert got["metadatas"][0] == {"title": "PPO", "path": "corpus/docs/ppo.md", "kind": "doc",
                                   "heading": "PPO", "part": 0}
    api = Index.open(settings).store.get(where={"kind": "api"})
    assert "tinyrl.agents.ppo.PPO.update" in {m["path"] for m in api["metadatas"]}
    assert all(m["symbol"] == m["path"] and m["title"].startswith(m["symbol"]) for m in api["metadatas"])


def test_reingest_skips_unchanged_and_upserts_changes(setup, monkeypatch):
    settings, corpus = setup
    # counts chunk embeddings only: the sentence cache filled after them is tested in test_vectors.py
    monkeypatch.setattr("copilot.ingest.cache_sentences", lambda *args: 0)
    with pytest.warns(UserWarning):
        run(settings)
    counter = CountingEmbedder(get_embedder())
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # the unchanged package is not even imported again
        again = run(settings, embedder=counter)
    assert counter.documents == 0 and again["embedded"] == 0 and again["by_kind"]["api"] == 3
    assert again["unchanged"] == 7 and again["added"] == again["updated"] == again["removed"] == 0
    old_ids = set(read_manifest(settings.index_dir)["sources"][str(corpus / "faq" / "seeds.txt")]["chunks"])
    reader = Index.open(settings)  # opened before the change: it must notice the new chunks
    assert reader.search("Set the seed for numpy", k=1)[0].path == "corpus/faq/seeds.txt"

    (corpus / "faq" / "seeds.txt").write_text("Why do runs differ?\n\nCall torch.manual_seed everywhere.")
    (corpus / "docs" / "rollouts.rst").unlink()
    (corpus / "faq" / "new.md").write_text("# Logging\n\nMetrics go to CSV and TensorBoard.")
    third = run(settings, embedder=counter)
    assert (third["added"], third["updated"], third["removed"], third["unchanged"]) == (1, 1, 1, 5)
    assert counter.documents == third["embedded"] == 2
    manifest = read_manifest(settings.index_dir)
    assert str(corpus / "docs" / "rollouts.rst") not in manifest["sources"]
    stored = Index.open(settings).ids()
    new_ids = set(manifest["sources"][str(corpus / "faq" / "seeds.txt")]["chunks"])
    assert not old_ids & stored and new_ids <= stored
    assert stored == {c for e in manifest["sources"].values() for c in e["chunks"]}
    hits = reader.search("RolloutStorage buffer literal block", k=10)
    assert all("rollouts.rst" not in h.path for h in hits)
    assert reader.search("manual_seed", k=1)[0].path == "corpus/faq/seeds.txt"


def test_a_new_pipeline_rewrites_metadata_without_embedding_again(setup, monkeypatch):
    settings, corpus = setup
    monkeypatch.setattr("copilot.ingest.cache_sentences", lambda *args: 0)
    with pytest.warns(UserWarning):
        run(settings)
    index = Index.open(settings)
    ids = read_manifest(settings.index_dir)["sources"][str(corpus / "docs" / "ppo.md")]["chunks"]
    index.store._collection.update(ids=ids, metadatas=[{"part": 7}] * len(ids))  # as an older pipeline left them
    from copilot.ingest import index_state

    assert index_state(settings) == "ready"
    for module in ("copilot.sources", "copilot.ingest"):  # a newer version: every source is read again
        monkeypatch.setattr(f"{module}.PIPELINE_VERSION", "next")
    assert index_state(settings) == "outdated"  # the UI and the CLI bring it up to date at start
    counter = CountingEmbedder(get_embedder())
    again = run(settings, embedder=counter)
    assert index_state(settings) == "ready"
    assert again["updated"] >= 1  # re-read, and found changed
    assert counter.documents == 0 and again["embedded"] == 0  # same text and title: same vectors
    metas = Index.open(settings).store.get(ids=ids)["metadatas"]
    assert [m["part"] for m in metas] == [0] * len(ids) == [0, 0, 0]  # three sections, one piece each
    assert all(m["path"] == "corpus/docs/ppo.md" for m in metas)


def test_api_reference_follows_package_changes(setup, tmp_path):
    settings, _ = setup
    with pytest.warns(UserWarning, match="tinyrl.broken"):
        run(settings)
    ppo = tmp_path / "pkgroot" / "tinyrl" / "agents" / "ppo.py"
    ppo.write_text(ppo.read_text().replace("Generalised advantage estimation.", "GAE with a lambda knob."))
    (tmp_path / "pkgroot" / "tinyrl" / "broken.py").write_text('def fixed():\n    """Now it imports cleanly."""\n')
    summary = run(settings)
    assert (summary["added"], summary["updated"], summary["unchanged"]) == (1, 1, 6)
    assert "api:tinyrl.broken" in read_manifest(settings.index_dir)["sources"]
    hit = Index.open(settings).search("tinyrl.agents.ppo.gae", k=1, kinds="api")[0]
    assert hit.symbol == "tinyrl.agents.ppo.gae" and "GAE with a lambda knob." in hit.text


def test_changed_embedder_is_refused_until_rebuild(setup):
    settings, _ = setup
    with pytest.warns(UserWarning):
        run(settings)
    other = Settings(home=settings.home, corpus=settings.corpus, embedder=str(packaged_model_dir()))
    refusal = r"built with embedder 'all-minilm-l6-v2'.*--rebuild to re-embed everything\.$"
    with pytest.raises(IngestError, match=refusal):
        run(other)
    with pytest.raises(SearchError, match="--rebuild"):
        Index.open(other)
    with pytest.warns(UserWarning):
        rebuilt = run(other, rebuild=True)
    assert rebuilt["embedded"] == rebuilt["chunks"] > 0
    assert read_manifest(settings.index_dir)["embedder"]["name"].startswith("st:")
    assert Index.open(other).count() == rebuilt["chunks"]


def test_user_files_and_folders(setup, tmp_path):
    settings, _ = setup
    notes = tmp_path / "my notes"
    (notes / "deep").mkdir(parents=True)
    (notes / "deep" / "ideas.md").write_text("# Ideas\n\nTry a larger replay ratio.")
    (notes / ".hidden.md").write_text("# skip me")
    single = tmp_path / "one.rst"
    single.write_text("Title\n=====\n\nA single user file.")
    summary = run(settings, [str(notes), str(single)])
    assert summary["added"] == 2
    sources = read_manifest(settings.index_dir)["sources"]
    assert {e["kind"] for e in sources.values()} == {"user"}
    assert str(notes / "deep" / "ideas.md") in {e["path"] for e in sources.values()}
    with pytest.warns(UserWarning):
        run(settings)  # the corpus ingest leaves the user's files alone
    assert str(notes / "deep" / "ideas.md") in read_manifest(settings.index_dir)["sources"]
    with pytest.raises(IngestError, match="does not exist"):
        run(settings, [str(tmp_path / "nope")])
    (tmp_path / "data.docx").write_bytes(b"x")
    with pytest.raises(IngestError, match=r"supported file types are .*\.md"):
        run(settings, [str(tmp_path / "data.docx")])


def test_missing_bm25_state_is_rebuilt_from_chroma(setup):
    settings, _ = setup
    with pytest.warns(UserWarning):
        run(settings)
    bm25_path, table_path = lexical_files(settings.index_dir)
    assert bm25_path.parent.name.startswith("gen-")
    bm25_path.unlink()
    table_path.write_text('{"id": ["damaged')
    index = Index.open(settings)  # rebuilt from Chroma in memory; only ingest writes the files
    assert index.search("clip_range", k=1, kinds="doc")[0].path == "corpus/docs/ppo.md"
    assert not bm25_path.exists()
    again = run(settings)
    assert again["embedded"] == 0 and again["unchanged"] == 7 and bm25_path.is_file()
    table = json.loads(table_path.read_text())
    assert len(table["id"]) == index.count()


def test_an_open_index_follows_a_rebuild(setup):
    settings, corpus = setup
    with pytest.warns(UserWarning):
        run(settings)
    reader = Index.open(settings)
    assert reader.search("clip_range", k=1, kinds="doc")[0].path == "corpus/docs/ppo.md"
    (corpus / "docs" / "ppo.md").unlink()
    with pytest.warns(UserWarning):
        run(settings, rebuild=True)  # the collection is dropped and made anew
    hits = reader.search("clip_range", k=5)
    assert hits and all(h.path != "corpus/docs/ppo.md" for h in hits)


def test_an_interrupted_run_is_repaired_api_modules_included(setup):
    settings, corpus = setup
    with pytest.warns(UserWarning, match="tinyrl.broken"):
        first = run(settings)
    manifest = read_manifest(settings.index_dir)
    index = Index.open(settings)
    lost = [cid for key in ("api:tinyrl.agents.ppo", str(corpus / "faq" / "seeds.txt"))
            for cid in manifest["sources"][key]["chunks"]]
    index.delete(lost)
    manifest["state"] = "writing"  # as a run killed before it finished leaves it
    (settings.index_dir / "manifest.json").write_text(json.dumps(manifest))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        again = run(settings)  # the package is unchanged: its lost module is imported again all the same
    assert again["embedded"] == len(lost) == 4 and again["chunks"] == first["chunks"]
    assert (again["updated"], again["unchanged"]) == (2, 5)
    assert read_manifest(settings.index_dir)["state"] == "ready"
    assert Index.open(settings).ids() == {c for e in read_manifest(settings.index_dir)["sources"].values()
                                          for c in e["chunks"]}
    hit = Index.open(settings).search("tinyrl.agents.ppo.gae", k=1, kinds="api")[0]
    assert hit.symbol == "tinyrl.agents.ppo.gae"


def test_ingest_caches_the_sentences_that_answers_are_built_from(setup):
    from copilot.evidence import split_units
    from copilot.vectors import UNITS_FILE, TextVectors

    settings, corpus = setup
    with pytest.warns(UserWarning):
        run(settings)
    path = lexical_files(settings.index_dir)[0].parent / UNITS_FILE
    index = Index.open(settings)
    hit = index.search("Set the seed for numpy", k=1)[0]
    cache = TextVectors(path, index.embedder)
    assert set(split_units(hit.text)) <= set(cache.vectors)  # an answer from this chunk embeds nothing


def test_postings_of_an_older_tokenizer_are_rewritten_by_the_next_ingest(setup):
    import numpy as np

    from copilot.bm25 import BM25

    settings, corpus = setup
    with pytest.warns(UserWarning):
        run(settings)
    path = lexical_files(settings.index_dir)[0]
    with np.load(path) as data:  # as an index built before postings carried their version
        old = {k: data[k] for k in data.files if k != "tokenizer"}
    np.savez(path, **old)
    assert not BM25.current(path)
    again = run(settings)
    assert BM25.current(path) and again["embedded"] == 0
    assert Index.open(settings).search("Set the seed for numpy", k=1)[0].path == "corpus/faq/seeds.txt"
