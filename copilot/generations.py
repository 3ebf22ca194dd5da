"""Index generations: which Chroma collection and BM25 files are live, and cleaning up the rest.

An index folder holds:

- ``manifest.json``: the record of the index. It names the live generation, and readers open
  whatever it names. It is always written whole to a temporary file and moved into place with
  ``os.replace``, so it is either the old manifest or the new one, never a mix.
- ``chroma/``: one Chroma store with one collection per generation (``copilot-chunks-<n>``).
- ``gen-<n>/``: the BM25 postings (``bm25.npz``) and chunk table (``chunks.json``) of
  generation ``n``.
- ``ingest.lock``: held (``flock``) by the one ingest that writes the folder; the kernel lets
  it go when that process dies, even by ``kill -9``.

A rebuild fills a new generation next to the live one and switches by writing the manifest
last; generations that the manifest does not name are leftovers (of a switch that never
happened, or of one whose clean-up was cut short) and are deleted by the next ingest.
An index written before generations existed is generation 0: collection ``copilot-chunks``
with its BM25 files at the top of the folder.

With a Chroma server (setting ``chroma_url``, bound to the folder by
:func:`bind_server`) the server is the store of record: the collections live there and so
does the manifest (collection ``copilot-index-manifest``, one document, with a stamp that
changes on every write). BM25 and the chunk table are rebuilt from the server's documents;
the local folder keeps only the writer lock and caches. So one machine ingests and any
other machine pointed at the same server searches what it wrote.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

COLLECTION = "copilot-chunks"
MANIFEST = "manifest.json"
BM25_FILE = "bm25.npz"
TABLE_FILE = "chunks.json"
LOCK_FILE = "ingest.lock"
MANIFEST_COLLECTION = "copilot-index-manifest"
MANIFEST_ID = "manifest"
_GEN_DIR = re.compile(r"^gen-(\d+)$")
_SERVERS: dict[str, str] = {}  # absolute index folder -> URL of the Chroma server holding that index


class IndexBusy(ValueError):
    """Another process is writing the index; the message is one sentence."""


class StoreUnreachable(ValueError):
    """The Chroma server named by the settings does not answer; the message is one sentence."""


def parse_server_url(url: str) -> tuple[str, int, bool]:
    """``http(s)://host[:port]`` -> ``(host, port, ssl)``; anything else is refused in one sentence."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1 or parts.path.strip("/"):
        raise ValueError(f"The chroma_url setting {url!r} is not a Chroma server address; accepted: "
                         "http://HOST:PORT or https://HOST[:PORT], or empty for the local folder.")
    return parts.hostname, port or (443 if parts.scheme == "https" else 8000), parts.scheme == "https"


def bind_server(index_dir: Path, url: str) -> None:
    """Keep the index of ``index_dir`` (a folder made for that server alone) in the Chroma server at ``url``."""
    parse_server_url(url)
    _SERVERS[os.path.abspath(index_dir)] = url


def server_url(index_dir: Path) -> str | None:
    """The Chroma server bound to ``index_dir``, or None when the folder holds the index."""
    return _SERVERS.get(os.path.abspath(index_dir))


def _manifest_collection(index_dir: Path, create: bool):
    from chromadb.errors import NotFoundError

    client = chroma_client(index_dir)
    if create:
        return client.get_or_create_collection(MANIFEST_COLLECTION, embedding_function=None)
    try:
        return client.get_collection(MANIFEST_COLLECTION, embedding_function=None)
    except NotFoundError:
        return None


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    if server_url(index_dir):
        collection = _manifest_collection(index_dir, create=False)
        got = collection.get(ids=[MANIFEST_ID], include=["documents"]) if collection is not None else None
        return json.loads(got["documents"][0]) if got and got["ids"] else None
    path = Path(index_dir) / MANIFEST
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def manifest_stamp(index_dir: Path) -> Any:
    """Changes whenever the manifest is written (in the server: a stamp stored beside it)."""
    if server_url(index_dir):
        collection = _manifest_collection(index_dir, create=False)
        got = collection.get(ids=[MANIFEST_ID], include=["metadatas"]) if collection is not None else None
        return (got["metadatas"][0] or {}).get("stamp") if got and got["ids"] else None
    try:
        st = (Path(index_dir) / MANIFEST).stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def write_manifest(index_dir: Path, manifest: dict[str, Any]) -> None:
    """Replace the manifest whole: the folder's file, or the server's document and stamp."""
    if not server_url(index_dir):
        write_json(Path(index_dir) / MANIFEST, manifest)
        return
    _manifest_collection(index_dir, create=True).upsert(
        ids=[MANIFEST_ID], documents=[json.dumps(manifest, ensure_ascii=False)],
        metadatas=[{"stamp": uuid.uuid4().hex}], embeddings=[[0.0]])


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` to ``path`` atomically: a reader sees the old file or the new one."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False)
    os.replace(tmp, path)


def live_generation(manifest: dict[str, Any] | None) -> int:
    """The generation a manifest names (0: the layout from before generations, or no index)."""
    return int((manifest or {}).get("generation", 0))


def collection_name(generation: int) -> str:
    return COLLECTION if generation == 0 else f"{COLLECTION}-{generation}"


def generation_of(collection: str) -> int:
    """The generation of a collection name made by :func:`collection_name`."""
    tail = collection[len(COLLECTION) + 1:]
    return int(tail) if collection.startswith(COLLECTION + "-") and tail.isdigit() else 0


def lexical_dir(index_dir: Path, generation: int) -> Path:
    return Path(index_dir) if generation == 0 else Path(index_dir) / f"gen-{generation}"


def lexical_files(index_dir: Path, generation: int | None = None) -> tuple[Path, Path]:
    """``(bm25.npz, chunks.json)`` of ``generation`` (default: the live one)."""
    if generation is None:
        generation = live_generation(read_manifest(index_dir))
    folder = lexical_dir(index_dir, generation)
    return folder / BM25_FILE, folder / TABLE_FILE


def generation_dirs(index_dir: Path) -> list[int]:
    """Generations that have a ``gen-<n>`` folder."""
    try:
        names = os.listdir(index_dir)
    except FileNotFoundError:
        return []
    return sorted(int(m.group(1)) for m in map(_GEN_DIR.match, names) if m)


def server_generations(index_dir: Path) -> list[int]:
    """Generations that have a collection in the Chroma server (none without a server)."""
    if not server_url(index_dir):
        return []
    names = [getattr(c, "name", c) for c in chroma_client(index_dir).list_collections()]
    return sorted({generation_of(n) for n in names if n == COLLECTION or n.startswith(COLLECTION + "-")})


def leftover_generations(index_dir: Path, live: int) -> list[int]:
    """Generations on disk (or in the server) other than ``live`` (generation 0 counts when its files remain)."""
    found = {g for g in [*generation_dirs(index_dir), *server_generations(index_dir)] if g != live}
    if live != 0 and any((Path(index_dir) / name).exists() for name in (BM25_FILE, TABLE_FILE)):
        found.add(0)
    return sorted(found)


def next_generation(index_dir: Path, manifest: dict[str, Any] | None) -> int:
    return max([live_generation(manifest), *generation_dirs(index_dir), *server_generations(index_dir)]) + 1


def _http_client(url: str):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    host, port, ssl = parse_server_url(url)
    try:
        return chromadb.HttpClient(host=host, port=port, ssl=ssl,
                                   settings=ChromaSettings(anonymized_telemetry=False))
    except ValueError:  # chromadb's "Could not connect to a Chroma server"
        raise StoreUnreachable(f"The Chroma server at {url!r} does not answer; start it (chroma run --path DIR "
                               "--host HOST --port PORT) or set chroma_url to a running one.") from None


def chroma_client(index_dir: Path):
    """A Chroma client: of the server bound to ``index_dir``, else one that reads the folder afresh.

    Chroma keeps one shared system per folder and process, with each collection's vectors in
    memory: a client made before another process wrote (an ingest, or one that was killed)
    would not see those vectors. So each open starts a new system, which loads the persisted
    vectors and replays Chroma's log; clients made earlier keep the system they hold.
    """
    url = server_url(index_dir)
    if url:
        return _http_client(url)
    import chromadb
    from chromadb.api.shared_system_client import SharedSystemClient
    from chromadb.config import Settings as ChromaSettings

    path = str(Path(index_dir) / "chroma")
    SharedSystemClient._identifier_to_system.pop(path, None)
    SharedSystemClient._identifier_to_refcount.pop(path, None)
    return chromadb.PersistentClient(path=path, settings=ChromaSettings(anonymized_telemetry=False))


def drop_generations(index_dir: Path, keep: int) -> list[int]:
    """Delete every generation but ``keep``: its collection first, then its BM25 files.

    The folder goes last, so a clean-up cut short is found and finished by the next one.
    Returns the generations dropped.
    """
    client = chroma_client(index_dir)
    keep_name, dropped = collection_name(keep), set()
    for collection in client.list_collections():
        name = getattr(collection, "name", collection)
        if name != keep_name and (name == COLLECTION or name.startswith(COLLECTION + "-")):
            client.delete_collection(name)
            dropped.add(generation_of(name))
    for generation in leftover_generations(index_dir, keep):
        dropped.add(generation)
        if generation == 0:
            for name in (BM25_FILE, TABLE_FILE):
                (Path(index_dir) / name).unlink(missing_ok=True)
        else:
            shutil.rmtree(lexical_dir(index_dir, generation), ignore_errors=True)
    for tmp in Path(index_dir).glob(f"{MANIFEST}.*.tmp"):  # left by a writer that was killed
        tmp.unlink(missing_ok=True)
    return sorted(dropped)


@contextlib.contextmanager
def ingest_lock(index_dir: Path) -> Iterator[None]:
    """Hold the folder's writer lock; refuse at once when another process holds it."""
    Path(index_dir).mkdir(parents=True, exist_ok=True)
    fd = os.open(Path(index_dir) / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusy(f"Another ingest is writing the index in {str(index_dir)!r}; "
                            "wait for it to finish and try again.") from None
        yield
    finally:
        os.close(fd)
