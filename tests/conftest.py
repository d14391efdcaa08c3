"""Shared fixtures: key material made once per run, and a builder of config folders."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from appliance.config.demo import self_signed_pem, write_ssh_host_keys

REPO = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--long", action="store_true", help="also run the long (slow) suites")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--long"):
        return
    skip = pytest.mark.skip(reason="long suite: run with --long")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def key_material(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ssh_host_ed25519_key, ssh_host_rsa_key and tls.pem."""
    folder = tmp_path_factory.mktemp("keys")
    write_ssh_host_keys(folder)
    (folder / "tls.pem").write_bytes(self_signed_pem())
    return folder


@pytest.fixture
def config_dir(tmp_path: Path, key_material: Path):
    """Returns write(text, fragments={name: text}) -> the config folder with keys/ inside."""

    def write(text: str, fragments: dict[str, str] | None = None) -> Path:
        folder = tmp_path / "config"
        if not folder.exists():
            shutil.copytree(key_material, folder / "keys")
        (folder / "server.ini").write_text(textwrap.dedent(text))
        for name, fragment in (fragments or {}).items():
            (folder / "server.d").mkdir(exist_ok=True)
            (folder / "server.d" / name).write_text(textwrap.dedent(fragment))
        return folder

    return write


@pytest.fixture(autouse=True)
def _forget_remembered_passwords():
    """Each test starts with no password remembered by an earlier test in this process."""
    from appliance.runtime.aaa.passwords import RECENTLY_VERIFIED

    RECENTLY_VERIFIED.clear()
