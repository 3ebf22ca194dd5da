"""The Models tab ingests server folders only under the configured roots."""

from __future__ import annotations

from pathlib import Path

import pytest

from copilot.config import ConfigError, Settings, load_settings, parse_auth
from copilot.ui.models_tab import check_ingest_paths


def test_default_roots_are_the_imports_folder_and_the_corpus(tmp_path: Path):
    settings = Settings(home=tmp_path, corpus=[str(tmp_path / "corpus")])
    assert settings.allowed_ingest_roots() == [(tmp_path / "imports").resolve(), (tmp_path / "corpus").resolve()]


def test_paths_under_a_root_pass_and_others_are_refused(tmp_path: Path):
    root = tmp_path / "imports"
    (root / "papers").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    (root / "link").symlink_to(tmp_path / "secret", target_is_directory=True)
    settings = Settings(home=tmp_path, corpus=[])
    assert check_ingest_paths([str(root / "papers")], settings) == [str((root / "papers").resolve())]
    for bad in (str(tmp_path / "secret"), str(root / ".." / "secret"), str(root / "link"), "/etc"):
        with pytest.raises(ValueError) as err:
            check_ingest_paths([str(root / "papers"), bad], settings)
        text = str(err.value)
        assert repr(bad) in text and "ingest_roots" in text and text.count(". ") == 0


def test_ingest_roots_setting_replaces_the_defaults(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("COPILOT_INGEST_ROOTS", str(tmp_path / "a"))
    settings = load_settings({"home": str(tmp_path)}, use_file=False)
    assert settings.allowed_ingest_roots() == [(tmp_path / "a").resolve()]
    assert check_ingest_paths([str(tmp_path / "a" / "x.md")], settings)


@pytest.mark.parametrize("value", [":", "user:", ":pw", "nocolon"])
def test_bad_auth_setting_is_refused_in_one_sentence(value, monkeypatch):
    monkeypatch.setenv("COPILOT_AUTH", value)
    with pytest.raises(ConfigError) as err:
        load_settings(use_file=False)
    assert "user:password" in str(err.value) and "pw" not in str(err.value)  # the secret is not echoed


def test_auth_keeps_colons_in_the_password():
    assert parse_auth("ana:a:b") == ("ana", "a:b")
