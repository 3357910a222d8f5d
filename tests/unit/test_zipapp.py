"""tools/zipapp.py: the plugin's one-file build, on a tiny package instead of the plugin.

Each build and run is a process of its own, on the base interpreter, as the Makefile does it:
the bytecode in the archive is that interpreter's, and the string hash seed differs from run
to run.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import importlib.util
import io
import marshal
import os
import pwd
import shutil
import stat
import subprocess
import sys
import threading
import types
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tools import zipapp, zipapp_bootstrap

ROOT = Path(__file__).resolve().parents[2]
BASE_PYTHON = os.path.realpath(sys.executable)
UNPACK_ENV = zipapp.UNPACK_ENV
READONLY_ENV = zipapp.READONLY_ENV
# Another user, for trees the plugin must not trust; chown needs root.
STRANGER = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving files away needs root")

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
    print(f"import path: {sys.path[0]}, archive on it: {sys.argv[0] in sys.path}", flush=True)
    if os.environ.get("FAKE_WAIT"):
        sys.stdin.readline()
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


class _Loader:
    """What the bootstrap asks of its zipimporter, read from a built archive."""

    def __init__(self, app: Path) -> None:
        self.app = app

    def get_data(self, name: str) -> bytes:
        with zipfile.ZipFile(self.app) as outer:
            return outer.read(name)


def _bootstrap_of(app: Path) -> Any:
    """The archive's own ``__main__``, its build's constants filled in, as a module."""
    module = types.ModuleType("built_bootstrap")
    source = _Loader(app).get_data("__main__.py").decode()
    exec(compile(source, "__main__.py", "exec"), module.__dict__)
    return module


def _tree(root: Path) -> Path:
    """The build's unpacked directory under ``root``."""
    (tree,) = [path for path in root.iterdir() if len(path.name) == 64]
    return tree


def _rejected(root: Path) -> int:
    return len([path for path in root.iterdir() if path.name.endswith(".rejected")])


def _plant(tree: Path) -> None:
    """Code of someone else's in the tree, the way it would run if the tree were used: the
    source changed and its shipped bytecode gone, so the source is what gets imported."""
    (tree / "fakeapp" / "main.py").write_text("def main():\n    print('planted')\n    return 0\n")
    (tree / "fakeapp" / "__pycache__" / f"main.{sys.implementation.cache_tag}.pyc").unlink()


def _snapshot(root: Path) -> dict[str, tuple[int, ...]]:
    """Everything under ``root`` as ``lstat`` sees it, but the access time."""
    snapshot: dict[str, tuple[int, ...]] = {}
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        fields = (st.st_mode, st.st_uid, st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
        snapshot[str(path)] = fields
    return snapshot


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
    assert _run(app, tmp_path).returncode == 3
    (build_dir,) = tmp_path.iterdir()
    compiled = f"fakeapp/__pycache__/main.{sys.implementation.cache_tag}.pyc"
    assert (build_dir / compiled).read_bytes() == _payload(app).read(compiled)
    # Nothing beside the payload: a file the import system wrote would fail the next check.
    written = {p.relative_to(build_dir).as_posix() for p in build_dir.rglob("*") if p.is_file()}
    assert written == {*_payload(app).namelist(), zipapp_bootstrap.MARKER}


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

    _bootstrap_of(app).unpack(_Loader(app), str(build_dir))
    assert list(tmp_path.iterdir()) == [build_dir]


def test_an_incomplete_directory_is_set_aside_not_used(app: Path, tmp_path: Path) -> None:
    assert _run(app, tmp_path).returncode == 3
    build_dir = _tree(tmp_path)
    (build_dir / zipapp_bootstrap.MARKER).unlink()
    _plant(build_dir)
    result = _run(app, tmp_path)
    assert result.returncode == 3, result.stderr
    assert "planted" not in result.stdout
    assert f"{build_dir} is incomplete" in result.stderr
    assert _rejected(tmp_path) == 1


# --- earlier builds' copies ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def next_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another build of the fake package (its data changed): an upgrade of ``app``."""
    root = tmp_path_factory.mktemp("zipapp-next")
    site = _fake_site_packages(root)
    (site / "fakeapp" / "data.txt").write_text("the next version\n")
    output = root / "fakeapp"
    _build(site, output)
    return output


def _builds(root: Path) -> set[str]:
    return {path.name for path in root.iterdir()}


def _started(app: Path, root: Path) -> subprocess.Popen[str]:
    """A run of ``app`` that stays up, holding its copy, until its standard input gets a line."""
    env = {**os.environ, UNPACK_ENV: str(root), "FAKE_WAIT": "1"}
    run = subprocess.Popen(
        [str(app)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert run.stdout is not None
    assert run.stdout.readline().startswith("fake main")  # past the bootstrap
    return run


def _stop(run: subprocess.Popen[str]) -> None:
    run.communicate("\n", timeout=30)
    assert run.returncode == 3


def test_an_upgrade_removes_the_earlier_builds_copy_once_no_process_runs_it(
    app: Path, next_app: Path, tmp_path: Path
) -> None:
    assert _run(app, tmp_path).returncode == 3
    (earlier,) = _builds(tmp_path)
    running = _started(app, tmp_path)
    try:
        # The earlier build still runs (a mount pinned to it, or not yet reloaded): kept.
        result = _run(next_app, tmp_path)
        assert result.returncode == 3, result.stderr
        (later,) = _builds(tmp_path) - {earlier}
        assert _builds(tmp_path) == {earlier, later}
        assert "removed" not in result.stderr
    finally:
        _stop(running)
    result = _run(next_app, tmp_path)
    assert result.returncode == 3, result.stderr
    assert _builds(tmp_path) == {later}
    assert f"removed {tmp_path / earlier}, an earlier build no process runs" in result.stderr
    # And the other way round: a start of the earlier build unpacks it again and removes the
    # later one's copy, which nothing runs now.
    assert _run(app, tmp_path).returncode == 3
    assert _builds(tmp_path) == {earlier}


def test_a_start_that_waited_while_its_copy_was_removed_does_not_use_it(
    app: Path, tmp_path: Path
) -> None:
    """The lock is taken before the check: a start that waits on it while another start
    removes the copy finds, once it has the lock, that the record it locked is no longer the
    one at that path, and so unpacks instead of using what is being deleted."""
    assert _run(app, tmp_path).returncode == 3
    target = tmp_path / next(iter(_builds(tmp_path)))
    record = target / zipapp_bootstrap.MARKER
    bootstrap = _bootstrap_of(app)
    remover = os.open(record, os.O_RDONLY)
    fcntl.flock(remover, fcntl.LOCK_EX)  # what a removing start holds
    outcome: list[bool] = []
    waiter = threading.Thread(target=lambda: outcome.append(bootstrap.hold(str(target))))
    waiter.start()
    try:
        _wait_for_a_blocked_lock(record.stat().st_ino)
        os.rename(target, f"{target}.gone")
    finally:
        os.close(remover)
        waiter.join(30)
    assert outcome == [False]
    result = _run(app, tmp_path)
    assert result.returncode == 3, result.stderr
    assert (target / zipapp_bootstrap.MARKER).exists()


def _wait_for_a_blocked_lock(inode: int) -> None:
    """Until /proc/locks shows a request waiting on the file with ``inode`` ("->" lines)."""
    for _ in range(3000):
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            if "->" in fields and fields[fields.index("->") + 5].endswith(f":{inode}"):
                return
        threading.Event().wait(0.01)
    raise AssertionError("the start never waited for the lock")


def test_copies_of_builds_from_before_the_locks_are_left_alone(
    app: Path, next_app: Path, tmp_path: Path
) -> None:
    """Their processes hold no lock, so nothing shows whether one still runs."""
    assert _run(app, tmp_path).returncode == 3
    (earlier,) = _builds(tmp_path)
    record = tmp_path / earlier / zipapp_bootstrap.MARKER
    record.write_bytes(marshal.dumps(marshal.loads(record.read_bytes())[:4]))
    result = _run(next_app, tmp_path)
    assert result.returncode == 3, result.stderr
    assert earlier in _builds(tmp_path)
    assert "removed" not in result.stderr


def test_a_link_named_like_a_build_is_left_and_not_followed(app: Path, tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    assert _run(app, root).returncode == 3
    # A copy of a real unpacked tree, with its lock-aware record, behind a link in the root.
    shutil.copytree(_tree(root), elsewhere / "copy")
    link = root / ("0" * 64)
    link.symlink_to(elsewhere / "copy")
    before = _snapshot(elsewhere)
    assert _run(app, root).returncode == 3
    assert link.is_symlink()
    assert _snapshot(elsewhere) == before


def test_without_file_locks_a_start_runs_and_removes_nothing(
    app: Path, next_app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file system that refuses locks (NFS without its lock daemon) must not stop the
    plugin: nothing is held there, and no copy is removed, since removing needs a lock."""
    assert _run(next_app, tmp_path).returncode == 3
    (other,) = _builds(tmp_path)

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    monkeypatch.setenv(UNPACK_ENV, str(tmp_path))
    bootstrap = _bootstrap_of(app)
    target = bootstrap.locate(_Loader(app))
    assert target == str(tmp_path / bootstrap.BUILD_ID)
    assert bootstrap.locate(_Loader(app)) == target  # its copy, checked and used again
    assert _builds(tmp_path) == {other, bootstrap.BUILD_ID}


def test_what_an_interrupted_removal_left_is_removed(app: Path, tmp_path: Path) -> None:
    leftover = tmp_path / f"{'a' * 64}.123-0a0b0c0d{zipapp_bootstrap.REMOVING}"
    (leftover / "pkg" / "sub").mkdir(parents=True)
    (leftover / "pkg" / "sub" / "module.py").write_text("")
    result = _run(app, tmp_path)
    assert result.returncode == 3, result.stderr
    assert not leftover.exists()
    assert len(_builds(tmp_path)) == 1


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


# --- what a start trusts (docs/security.md) ----------------------------------------------------


def test_the_archive_carries_the_manifest_of_its_payload(app: Path) -> None:
    lines = []
    payload = _payload(app)
    for info in payload.infolist():
        digest = hashlib.sha256(payload.read(info)).hexdigest()
        mode = "755" if info.external_attr >> 16 & 0o100 else "644"
        lines.append(f"{info.filename}\0{digest}\0{mode}\n")
    expected = hashlib.sha256("".join(sorted(lines)).encode()).hexdigest()
    assert expected == _bootstrap_of(app).MANIFEST


def test_a_payload_that_does_not_match_the_manifest_is_not_unpacked(
    app: Path, tmp_path: Path
) -> None:
    """The archive's bootstrap names another manifest: what it would unpack is not its build."""
    source = _Loader(app).get_data("__main__.py").decode()
    manifest = _bootstrap_of(app).MANIFEST
    forged = tmp_path / "forged"
    with forged.open("wb") as out:
        out.write(f"#!{BASE_PYTHON} -sSE\n".encode())
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr("__main__.py", source.replace(manifest, "0" * 64))
            archive.writestr(zipapp.PAYLOAD, _Loader(app).get_data(zipapp.PAYLOAD))
    forged.chmod(0o755)
    result = _run(forged, tmp_path / "unpack")
    assert result.returncode == 1
    assert "does not match the manifest" in result.stderr
    assert list((tmp_path / "unpack").iterdir()) == []


@needs_root
def test_a_tree_owned_by_another_user_is_set_aside_and_unpacked_afresh(
    app: Path, tmp_path: Path
) -> None:
    assert _run(app, tmp_path).returncode == 3
    tree = _tree(tmp_path)
    _plant(tree)
    for path in [tree, *tree.rglob("*")]:
        os.lchown(path, STRANGER, STRANGER)
    result = _run(app, tmp_path)
    assert result.returncode == 3, result.stderr
    assert "planted" not in result.stdout
    assert f"{tree} belongs to uid {STRANGER}" in result.stderr
    assert _tree(tmp_path).stat().st_uid == os.geteuid()
    assert _rejected(tmp_path) == 1


@pytest.mark.parametrize("where", ["fakeapp", "fakeapp/data.txt", "."])
@pytest.mark.parametrize("bits", [0o020, 0o002])
def test_what_group_or_others_may_write_is_set_aside(
    app: Path, tmp_path: Path, where: str, bits: int
) -> None:
    assert _run(app, tmp_path).returncode == 3
    tree = _tree(tmp_path)
    _plant(tree)
    loose = tree / where
    loose.chmod(loose.stat().st_mode & 0o777 | bits)
    result = _run(app, tmp_path)
    assert result.returncode == 3, result.stderr
    assert "planted" not in result.stdout
    assert f"{loose.resolve()} is writable by group or others" in result.stderr
    assert _rejected(tmp_path) == 1


@needs_root
def test_an_unpack_root_others_may_write_is_refused(app: Path, tmp_path: Path) -> None:
    """The reported attack: in a world-writable root, another user made a complete-looking
    tree of their own and a symbolic link to it named by the build."""
    root = tmp_path / "shared"
    root.mkdir()
    root.chmod(0o1777)
    build_id = _bootstrap_of(app).BUILD_ID
    assert _run(app, tmp_path / "genuine").returncode == 3
    theirs = root / "theirs"
    _tree(tmp_path / "genuine").rename(theirs)
    _plant(theirs)
    (root / build_id).symlink_to(theirs)
    for path in [theirs, *theirs.rglob("*"), root / build_id]:
        os.lchown(path, STRANGER, STRANGER)
    result = _run(app, root)
    assert result.returncode == 1
    assert "planted" not in result.stdout
    assert f"{root} is writable by group or others (mode 1777)" in result.stderr
    assert f"set {UNPACK_ENV}" in result.stderr


@pytest.mark.parametrize("owner", ["stranger", "open"])
def test_a_directory_above_the_root_that_others_may_change_is_refused(
    app: Path, tmp_path: Path, owner: str
) -> None:
    above = tmp_path / "above"
    above.mkdir()
    if owner == "stranger":
        if os.geteuid() != 0:
            pytest.skip("giving files away needs root")
        os.chown(above, STRANGER, STRANGER)
    else:
        above.chmod(0o777)  # no sticky bit: anyone may rename the root away and put theirs
    result = _run(app, above / "root")
    assert result.returncode == 1
    reason = f"belongs to uid {STRANGER}" if owner == "stranger" else "is writable by group"
    assert f"{above} {reason}" in result.stderr


def test_a_symbolic_link_to_the_tree_is_set_aside(app: Path, tmp_path: Path) -> None:
    """Even to this user's own intact tree: the link's target is not what was checked."""
    root = tmp_path / "root"
    assert _run(app, root).returncode == 3
    tree = _tree(root)
    elsewhere = tmp_path / "elsewhere"
    tree.rename(elsewhere)
    tree.symlink_to(elsewhere)
    result = _run(app, root)
    assert result.returncode == 3, result.stderr
    assert f"{tree} is not a directory (a symbolic link?)" in result.stderr
    assert not _tree(root).is_symlink()
    assert _rejected(root) == 1


def test_a_symbolic_link_in_the_tree_is_set_aside(app: Path, tmp_path: Path) -> None:
    assert _run(app, tmp_path).returncode == 3
    tree = _tree(tmp_path)
    _plant(tree)
    planted = tmp_path / "planted.py"
    (tree / "fakeapp" / "main.py").rename(planted)
    (tree / "fakeapp" / "main.py").symlink_to(planted)
    result = _run(app, tmp_path)
    assert result.returncode == 3, result.stderr
    assert "planted" not in result.stdout
    assert f"{tree}/fakeapp/main.py is a symbolic link" in result.stderr


def _rewrite_keeping_size_and_mtime(tree: Path) -> str:
    data = tree / "fakeapp" / "data.txt"
    before = data.stat()
    data.write_text("NOT CODE\n")
    os.utime(data, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert data.stat().st_size == before.st_size
    return "fakeapp/data.txt was rewritten"


def _add_a_module(tree: Path) -> str:
    (tree / "json.py").write_text("print('planted')\n")  # would shadow the standard library's
    return "json.py is not part of the build"


def _plant_code(tree: Path) -> str:
    _plant(tree)
    return f"fakeapp/__pycache__/main.{sys.implementation.cache_tag}.pyc is missing"


@pytest.mark.parametrize("tamper", [_rewrite_keeping_size_and_mtime, _add_a_module, _plant_code])
def test_a_tree_changed_since_it_was_unpacked_is_set_aside(
    app: Path, tmp_path: Path, tamper: Any
) -> None:
    assert _run(app, tmp_path).returncode == 3
    tree = _tree(tmp_path)
    reason = tamper(tree)
    result = _run(app, tmp_path)
    assert result.returncode == 3, result.stderr
    assert "planted" not in result.stdout
    assert f"{tree} changed since it was unpacked: {reason}" in result.stderr
    assert _rejected(tmp_path) == 1
    # The fresh copy passes: the next start uses it without a word.
    again = _run(app, tmp_path)
    assert (again.returncode, again.stderr) == (3, "")


# --- the read-only mode ------------------------------------------------------------------------


def _prepare(app: Path, directory: Path) -> subprocess.CompletedProcess[str]:
    """``--unpack-to``; the writable place beside it, which it must not use."""
    return _run(app, directory.parent / "never", zipapp_bootstrap.UNPACK_TO, str(directory))


def _run_readonly(app: Path, directory: Path, scratch: Path) -> subprocess.CompletedProcess[str]:
    return _run(app, scratch / "never", env={**os.environ, READONLY_ENV: str(directory)})


def test_unpack_to_prepares_a_directory_the_plugin_only_reads(app: Path, tmp_path: Path) -> None:
    prepared = tmp_path / "prepared"
    result = _prepare(app, prepared)
    assert result.returncode == 0, result.stderr
    assert f"{READONLY_ENV}={prepared}" in result.stdout
    tree = _tree(prepared)
    for path in [prepared, *prepared.rglob("*")]:
        expected = 0o755 if path.is_dir() or path.name == "tool.sh" else 0o644
        assert stat.S_IMODE(path.stat().st_mode) == expected, path
    before = _snapshot(prepared)
    run = _run_readonly(app, prepared, tmp_path)
    assert run.returncode == 3, run.stderr
    assert run.stdout.startswith(f"fake main: other from {tree}/fakeapp/main.py")
    assert _snapshot(prepared) == before
    assert not (tmp_path / "never").exists()  # the writable place is not used either
    usage = _run(app, tmp_path / "never", zipapp_bootstrap.UNPACK_TO)
    assert (usage.returncode, usage.stdout) == (1, "")
    assert f"usage: {zipapp.APP_NAME} {zipapp_bootstrap.UNPACK_TO} DIR" in usage.stderr


@pytest.mark.parametrize("damage", ["absent", "stranger", "writable", "added", "unpacked"])
def test_a_readonly_directory_that_fails_its_check_is_refused_and_left_alone(
    app: Path, tmp_path: Path, damage: str
) -> None:
    prepared = tmp_path / "prepared"
    if damage == "unpacked":  # a start's own copy: not what --unpack-to made
        assert _run(app, prepared).returncode == 3
    elif damage == "absent":
        prepared.mkdir()
    else:
        assert _prepare(app, prepared).returncode == 0
        tree = _tree(prepared)
        _plant(tree)
        if damage == "stranger":
            if os.geteuid() != 0:
                pytest.skip("giving files away needs root")
            os.chown(tree / "fakeapp" / "main.py", STRANGER, STRANGER)
        elif damage == "writable":
            (tree / "fakeapp").chmod(0o777)
        else:
            (tree / "fakeapp" / "extra.py").write_text("")
    before = _snapshot(prepared)
    result = _run_readonly(app, prepared, tmp_path)
    assert result.returncode == 1
    assert "planted" not in result.stdout
    assert READONLY_ENV in result.stderr
    assert f"{zipapp_bootstrap.UNPACK_TO} {prepared}" in result.stderr
    assert _snapshot(prepared) == before
    reason = {
        "absent": "does not exist",
        "stranger": f"main.py belongs to uid {STRANGER}",
        "writable": "fakeapp is writable by group or others",
        "added": "changed since it was unpacked",
        "unpacked": "not for this use",
    }[damage]
    assert reason in result.stderr


def test_unpack_to_a_prepared_directory_checks_every_file(app: Path, tmp_path: Path) -> None:
    prepared = tmp_path / "prepared"
    assert _prepare(app, prepared).returncode == 0
    again = _prepare(app, prepared)
    assert again.returncode == 0, again.stderr
    assert "every file matches the build's manifest" in again.stdout
    # A rewrite that keeps the size passes a start's check of a read-only tree (its inodes and
    # ctimes are not recorded: copies into images change them) but not the full one.
    _rewrite_keeping_size_and_mtime(_tree(prepared))
    checked = _prepare(app, prepared)
    assert checked.returncode == 1
    assert "does not match the build's manifest" in checked.stderr
