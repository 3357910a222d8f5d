"""tools/zipapp.py: the plugin's one-file build, on a tiny package instead of the plugin.

Each build and run is a process of its own, on the base interpreter, as the Makefile does it:
the bytecode in the archive is that interpreter's, and the string hash seed differs from run
to run.
"""

from __future__ import annotations

import importlib.util
import io
import os
import pwd
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tools import zipapp, zipapp_bootstrap

ROOT = Path(__file__).resolve().parents[2]
BASE_PYTHON = os.path.realpath(sys.executable)
UNPACK_ENV = zipapp.UNPACK_ENV

# The set display compiles to a frozenset constant: its order in memory follows the string
# hash seed (marshal sorts it since 3.11), like the order of any set or dict the builder might
# iterate over.
FAKE_MAIN = """\
import os
import pwd
import sys


def main():
    first = sys.argv[1] if len(sys.argv) > 1 else ""
    kind = "known" if first in {"alpha", "beta", "gamma", "delta", "epsilon"} else "other"
    print(f"fake main: {kind} from {__file__}")
    print(f"import path: {sys.path[0]}, archive on it: {sys.argv[0] in sys.path}")
    return int(os.environ.get("FAKE_EXIT", "3"))
"""


def _fake_site_packages(root: Path) -> Path:
    site = root / "site"
    package = site / "fakeapp"
    (package / "__pycache__").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "main.py").write_text(FAKE_MAIN)
    (package / "data.txt").write_text("not code\n")
    (package / "tool.sh").write_text("#!/bin/sh\n")
    (package / "tool.sh").chmod(0o775)
    # pip's own bytecode, checked against mtimes: the build leaves it out.
    (package / "__pycache__" / "stale.cpython-311.pyc").write_bytes(b"stale")
    (site / "fakeapp-1.0.dist-info").mkdir()
    (site / "fakeapp-1.0.dist-info" / "METADATA").write_text("Name: fakeapp\n")
    return site


def _build(site: Path, output: Path, seed: str = "random", exclude: tuple[str, ...] = ()) -> None:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    result = subprocess.run(
        [
            BASE_PYTHON,
            str(ROOT / "tools" / "zipapp.py"),
            "--site-packages",
            str(site),
            "--interpreter",
            f"{BASE_PYTHON} -sSE",
            "--entry-point",
            "fakeapp.main:main",
            *(f"--exclude={pattern}" for pattern in exclude),
            "-o",
            str(output),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr


def _run(
    app: Path, unpack_dir: Path | None, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ if env is None else env)
    if unpack_dir is not None:
        environment[UNPACK_ENV] = str(unpack_dir)
    return subprocess.run([str(app), *args], capture_output=True, text=True, env=environment)


def _payload(app: Path) -> zipfile.ZipFile:
    with zipfile.ZipFile(app) as outer:
        return zipfile.ZipFile(io.BytesIO(outer.read(zipapp.PAYLOAD)))


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("zipapp")
    output = root / "fakeapp"
    _build(_fake_site_packages(root), output)
    return output


def test_two_builds_under_different_hash_seeds_are_byte_identical(tmp_path: Path) -> None:
    site = _fake_site_packages(tmp_path)
    _build(site, tmp_path / "one", seed="1")
    _build(site, tmp_path / "two", seed="2")
    assert (tmp_path / "one").read_bytes() == (tmp_path / "two").read_bytes()


def test_the_archive_is_a_shebang_and_a_zip_of_fixed_entries(app: Path) -> None:
    assert app.read_bytes().split(b"\n", 1)[0] == f"#!{BASE_PYTHON} -sSE".encode()
    assert app.stat().st_mode & 0o777 == 0o755
    with zipfile.ZipFile(app) as outer:
        assert outer.namelist() == ["__main__.py", "__main__.pyc", zipapp.PAYLOAD]
        assert {info.date_time for info in outer.infolist()} == {zipapp.EPOCH}
    names = _payload(app).namelist()
    assert names == sorted(names)
    assert "fakeapp/__pycache__/stale.cpython-311.pyc" not in names
    modes = {info.filename: info.external_attr >> 16 for info in _payload(app).infolist()}
    assert modes["fakeapp/tool.sh"] == 0o100755
    assert modes["fakeapp/data.txt"] == 0o100644


def test_the_bytecode_is_in_the_archive_for_this_interpreter_unchecked(app: Path) -> None:
    tag = sys.implementation.cache_tag
    payload = _payload(app)
    for module in ("__init__", "main"):
        pyc = payload.read(f"fakeapp/__pycache__/{module}.{tag}.pyc")
        assert pyc[:4] == importlib.util.MAGIC_NUMBER
        assert int.from_bytes(pyc[4:8], "little") == 0b01  # hash-based, not checked (PEP 552)
    with zipfile.ZipFile(app) as outer:
        assert outer.read("__main__.pyc")[:4] == importlib.util.MAGIC_NUMBER


def test_the_archive_runs_its_entry_point_with_its_exit_code(app: Path, tmp_path: Path) -> None:
    result = _run(app, tmp_path, "beta", env={**os.environ, "FAKE_EXIT": "7"})
    assert result.returncode == 7, result.stderr
    build_dir = next(tmp_path.iterdir())
    assert result.stdout.splitlines() == [
        f"fake main: known from {build_dir}/fakeapp/main.py",
        f"import path: {build_dir}, archive on it: False",
    ]


def test_the_first_run_unpacks_once_and_later_runs_reuse_it(app: Path, tmp_path: Path) -> None:
    assert _run(app, tmp_path).returncode == 3
    (build_dir,) = tmp_path.iterdir()
    assert len(build_dir.name) == 64  # the payload's sha256
    marker = build_dir / zipapp_bootstrap.MARKER
    before = marker.stat()
    files = sorted(build_dir.rglob("*"))
    assert _run(app, tmp_path).returncode == 3
    after = marker.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert sorted(build_dir.rglob("*")) == files
    assert list(tmp_path.iterdir()) == [build_dir]


def test_unpacked_files_are_the_owners_alone(app: Path, tmp_path: Path) -> None:
    _run(app, tmp_path / "made" / "here")
    for path in [tmp_path / "made", *(tmp_path / "made").rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.is_dir():
            assert mode == 0o700, path
        else:
            assert mode & 0o077 == 0, path
    (build_dir,) = (tmp_path / "made" / "here").iterdir()
    assert stat.S_IMODE((build_dir / "fakeapp" / "tool.sh").stat().st_mode) == 0o700


def test_the_first_run_imports_the_shipped_bytecode_and_writes_none(
    app: Path, tmp_path: Path
) -> None:
    assert _run(app, tmp_path).returncode == 3
    (build_dir,) = tmp_path.iterdir()
    compiled = f"fakeapp/__pycache__/main.{sys.implementation.cache_tag}.pyc"
    assert (build_dir / compiled).read_bytes() == _payload(app).read(compiled)
    # Unchecked: a changed source does not count, so the bytecode is what ran.
    source = build_dir / "fakeapp" / "main.py"
    source.write_text(source.read_text().replace('"fake main', '"edited'))
    assert _run(app, tmp_path).stdout.startswith("fake main: other")


def test_concurrent_first_runs_all_succeed_and_share_one_directory(
    app: Path, tmp_path: Path
) -> None:
    env = {**os.environ, UNPACK_ENV: str(tmp_path)}
    runs = [
        subprocess.Popen([str(app)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        for _ in range(6)
    ]
    for run in runs:
        out, err = run.communicate(timeout=60)
        assert run.returncode == 3, err
        assert out.startswith(b"fake main")
    (build_dir,) = tmp_path.iterdir()
    assert (build_dir / zipapp_bootstrap.MARKER).exists()


def test_a_start_that_loses_the_race_uses_the_winners_directory(app: Path, tmp_path: Path) -> None:
    """The loser's side, made certain: the build's directory appears complete while this
    start unpacks its own copy."""
    assert _run(app, tmp_path).returncode == 3
    (build_dir,) = tmp_path.iterdir()

    class Loader:
        def get_data(self, name: str) -> bytes:
            with zipfile.ZipFile(app) as outer:
                return outer.read(name)

    zipapp_bootstrap.unpack(Loader(), str(build_dir))
    assert list(tmp_path.iterdir()) == [build_dir]


def test_an_incomplete_directory_is_reported_not_used(app: Path, tmp_path: Path) -> None:
    assert _run(app, tmp_path).returncode == 3
    (build_dir,) = tmp_path.iterdir()
    (build_dir / zipapp_bootstrap.MARKER).unlink()
    result = _run(app, tmp_path)
    assert result.returncode == 1
    assert f"{build_dir} is incomplete" in result.stderr


def test_the_default_place_is_the_user_cache(app: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in (UNPACK_ENV, "XDG_CACHE_HOME")}
    assert _run(app, None, env={**env, "HOME": str(tmp_path / "home")}).returncode == 3
    assert (tmp_path / "home" / ".cache" / zipapp.APP_NAME / "zipapp").is_dir()
    assert _run(app, None, env={**env, "XDG_CACHE_HOME": str(tmp_path / "xdg")}).returncode == 3
    assert (tmp_path / "xdg" / zipapp.APP_NAME / "zipapp").is_dir()


def test_without_home_the_password_databases_home_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in (UNPACK_ENV, "XDG_CACHE_HOME", "HOME"):
        monkeypatch.delenv(name, raising=False)
    home = pwd.getpwuid(os.getuid()).pw_dir
    expected = os.path.join(home, ".cache", zipapp_bootstrap.APP_NAME, "zipapp")
    assert zipapp_bootstrap.unpack_root() == expected


def test_without_a_writable_place_it_says_what_to_set(app: Path, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    blocked = _run(app, tmp_path / "a-file" / "below")
    assert blocked.returncode == 1
    assert "cannot unpack" in blocked.stderr
    assert f"set {UNPACK_ENV}" in blocked.stderr
    assert "Traceback" not in blocked.stderr


def test_the_builder_refuses_another_interpreters_shebang() -> None:
    with pytest.raises(zipapp.BuildError, match="interpreter"):
        zipapp.check_interpreter("/usr/bin/env python3 -sSE")


def test_excluded_files_are_left_out_so_the_checkouts_path_does_not_reach_the_build(
    tmp_path: Path,
) -> None:
    # The same sources installed from two checkouts differ only in the files that name the
    # checkout (pip's direct_url.json, console scripts' shebangs): excluded, the builds match.
    outputs: list[bytes] = []
    for checkout in ("/src/one", "/elsewhere/two"):
        site = _fake_site_packages(tmp_path / checkout.strip("/").replace("/", "-"))
        info = site / "fakeapp-1.0.dist-info"
        (info / "direct_url.json").write_text(f'{{"url": "file://{checkout}"}}')
        (site / "bin").mkdir()
        (site / "bin" / "fakeapp").write_text(f"#!{checkout}/.venv/bin/python\n")
        output = tmp_path / f"app-{len(outputs)}"
        _build(site, output, exclude=("bin/*", "*.dist-info/direct_url.json"))
        outputs.append(output.read_bytes())
    assert outputs[0] == outputs[1]
    names = _payload(tmp_path / "app-0").namelist()
    assert "fakeapp/main.py" in names
    assert "fakeapp-1.0.dist-info/METADATA" in names
    assert not [name for name in names if name.startswith("bin/") or "direct_url" in name]
