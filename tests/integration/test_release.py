"""The release file (`make release`) on a host that has no Python: in an empty root holding
the file and the libraries it links, it shakes hands and serves gRPC, and a Vault there,
with no PATH at all, registers it by sha256 and issues a credential through it.

The root is a directory of the test's; a user and mount namespace (``unshare``) lets the test
bind /proc, /dev/null and /dev/urandom into it and ``chroot`` without touching the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import re
import shlex
import shutil
import signal
import struct
import subprocess
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from grpclib.client import Channel
from grpclib.config import Configuration
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets import PLUGIN_VERSION
from tencentcloud_secrets_shim._proto.goplugin.health_pb2 import (
    HealthCheckRequest,
    HealthCheckResponse,
)
from tencentcloud_secrets_shim._proto.vault.logical import version_pb2
from tests.support.account import user_names
from tests.support.cloud_client import client_as
from tests.support.plugin_process import (
    HANDSHAKE,
    client_ssl,
    health,
    launch_environment,
    vault_like_identity,
    version,
)
from tools.vaultserver import PLUGIN_BIN, PLUGIN_NAME, RELEASE_FILE, ROOT, VaultServer

LOCATOR_MAGIC = b"tc-release-lib:1"  # tools/release/launcher.c
# What the release may take from the host (docs/install.md): glibc's libraries, and the GCC
# runtime that the manylinux2014 wheels of cryptography and protobuf link.
HOST_LIBRARIES = {
    "ld-linux-x86-64.so.2",
    "libc.so.6",
    "libdl.so.2",
    "libm.so.6",
    "libpthread.so.0",
    "librt.so.1",
    "libutil.so.1",
    "libgcc_s.so.1",
    "libstdc++.so.6",
}
GLIBC_FLOOR = (2, 17)
DEVICES = ("null", "urandom")


@pytest.fixture(scope="module")
def release() -> Path:
    if not RELEASE_FILE.is_file():
        pytest.fail(f"{RELEASE_FILE} is missing: run `make release`")
    return RELEASE_FILE


def elf_images(release: Path, into: Path) -> list[Path]:
    """Every ELF image the release file runs: itself (the launcher), the libpython it
    carries, and the payload's extension modules, the last two written into ``into``."""
    data = release.read_bytes()
    at = data.find(LOCATOR_MAGIC)
    assert at > 0, "no locator in the release file"
    offset, length = struct.unpack_from("<QQ", data, at + len(LOCATOR_MAGIC))
    images = [release, into / "libpython3.11.so.1.0"]
    images[1].write_bytes(data[offset : offset + length])
    with zipfile.ZipFile(release) as outer:
        payload = zipfile.ZipFile(io.BytesIO(outer.read("payload.zip")))
    for name in payload.namelist():
        if name.endswith(".so"):
            image = into / name.replace("/", "_")
            image.write_bytes(payload.read(name))
            images.append(image)
    return images


def needed(image: Path) -> set[str]:
    out = subprocess.run(["readelf", "-d", str(image)], capture_output=True, text=True, check=True)
    return set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out.stdout))


def glibc_versions(image: Path) -> set[tuple[int, ...]]:
    out = subprocess.run(["objdump", "-T", str(image)], capture_output=True, text=True, check=True)
    return {tuple(map(int, v.split("."))) for v in re.findall(r"\bGLIBC_([0-9.]+)\b", out.stdout)}


def test_the_release_file_needs_only_glibc_2_17_and_the_gcc_runtime(
    release: Path, tmp_path: Path
) -> None:
    images = elf_images(release, tmp_path)
    assert len(images) >= 4  # launcher, libpython, cryptography's and protobuf's modules
    for image in images:
        assert needed(image) <= HOST_LIBRARIES, image.name
        assert max(glibc_versions(image), default=(0,)) <= GLIBC_FLOOR, image.name


def test_the_same_sources_give_the_same_release_file(release: Path, tmp_path: Path) -> None:
    again = tmp_path / "dist" / PLUGIN_NAME
    subprocess.run(
        [
            "make",
            "-s",
            "--no-print-directory",
            "release",
            f"RELEASE_BUILD={tmp_path / 'build'}",
            f"RELEASE_FILE={again}",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    digest = hashlib.sha256(release.read_bytes()).hexdigest()
    assert hashlib.sha256(again.read_bytes()).hexdigest() == digest
    assert (again.parent / "SHA256SUMS").read_text() == f"{digest}  {PLUGIN_NAME}\n"


def runtime_closure(distribution: str) -> set[str]:
    """``distribution`` and every distribution it needs at run time, as installed here."""
    found: set[str] = set()
    wanted = [distribution]
    while wanted:
        name = canonicalize_name(wanted.pop())
        if name in found:
            continue
        found.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                wanted.append(requirement.name)
    return found


def payload_tops(build: Path) -> set[str]:
    with zipfile.ZipFile(build) as outer:
        payload = zipfile.ZipFile(io.BytesIO(outer.read("payload.zip")))
    return {name.split("/")[0] for name in payload.namelist()}


@pytest.mark.parametrize("build", [PLUGIN_BIN, RELEASE_FILE], ids=["plugin-bin", "release"])
def test_a_build_carries_the_plugin_and_its_runtime_dependencies_and_nothing_else(
    build: Path,
) -> None:
    # The emulator is a distribution of its own: neither it nor pyyaml reaches a build.
    if not build.is_file():
        pytest.fail(f"{build} is missing: run `make dev` and `make release`")
    tops = payload_tops(build)
    carried = {canonicalize_name(top.split("-")[0]) for top in tops if top.endswith(".dist-info")}
    assert carried == runtime_closure("vault-plugin-secrets-tencentcloud")
    assert {"tencentcloud_secrets", "tencentcloud_secrets_shim"} <= tops
    assert not tops & {"tencentcloud_emulator", "yaml", "_yaml"}


def bare_root(release: Path, root: Path) -> Path:
    """An empty root: the release file in /plugins, the host's copies of the libraries its
    images link (at the paths the dynamic linker looks in), and empty /proc, /dev, /tmp and
    /home to mount or write in."""
    for directory in ("plugins", "proc", "dev", "tmp", "home", ".images"):
        (root / directory).mkdir(parents=True)
    (root / "tmp").chmod(0o1777)
    for device in DEVICES:
        (root / "dev" / device).touch()
    shutil.copyfile(release, root / "plugins" / PLUGIN_NAME)
    (root / "plugins" / PLUGIN_NAME).chmod(0o755)
    libraries: set[str] = set()
    for image in elf_images(release, root / ".images"):
        out = subprocess.run(["ldd", str(image)], capture_output=True, text=True).stdout
        libraries.update(re.findall(r"(/\S+) \(0x", out))
    shutil.rmtree(root / ".images")
    assert {Path(library).name for library in libraries} <= HOST_LIBRARIES
    for library in libraries:
        target = root / library.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(library, target)  # the file a link names, with its mode (ld.so: executable)
    return root


def in_root(root: Path, argv: list[str], env: dict[str, str]) -> list[str]:
    """``argv`` run in ``root`` with ``env`` as its whole environment (no PATH unless given)."""
    mounts = [f"mount --rbind /proc {shlex.quote(str(root / 'proc'))}"] + [
        f"mount --bind /dev/{device} {shlex.quote(str(root / 'dev' / device))}"
        for device in DEVICES
    ]
    variables = " ".join(shlex.quote(f"{name}={value}") for name, value in env.items())
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    command = " ".join(shlex.quote(part) for part in [chroot, str(root), *argv])
    script = " && ".join(mounts) + f" && exec env -i {variables} {command}"
    namespaces = ["--user", "--map-root-user", "--mount", "--fork", "--kill-child=SIGTERM"]
    return ["unshare", *namespaces, "sh", "-c", script]


def stop_in_root(
    proc: subprocess.Popen[str] | subprocess.Popen[bytes],
    sig: int = signal.SIGTERM,
    timeout: float = 30,
) -> int:
    """``sig`` to what runs in the root (``unshare`` keeps SIGTERM for itself), then wait for
    both; the exit status of ``unshare`` is that of its child."""
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split():
            os.kill(int(child), sig)
    return proc.wait(timeout)


def root_listing(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if not path.is_dir()}


@pytest.fixture
def root(release: Path, tmp_path: Path) -> Path:
    made = bare_root(release, tmp_path / "root")
    files = root_listing(made)
    assert f"plugins/{PLUGIN_NAME}" in files
    others = files - {f"plugins/{PLUGIN_NAME}", "dev/null", "dev/urandom"}
    assert others
    assert {Path(name).name for name in others} <= HOST_LIBRARIES  # and nothing else
    return made


@pytest.fixture
def served(root: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, Path, Path]]:
    """The release file started in the root as Vault starts it: (the process, its handshake
    line, client certificate, client key)."""
    cert_path, key_path, pem = vault_like_identity(tmp_path)
    env = {**launch_environment(pem), "TENCENTCLOUD_PLUGIN_UNPACK_DIR": "/tmp/unpack"}
    proc = subprocess.Popen(
        in_root(root, [f"/plugins/{PLUGIN_NAME}"], env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    line = proc.stdout.readline().rstrip("\n")
    try:
        if not line:
            proc.kill()
            pytest.fail(
                f"no handshake from the release file in an empty root: {proc.stderr.read()}"
            )
        yield proc, line, cert_path, key_path
    finally:
        if proc.poll() is None:
            stop_in_root(proc)


def test_in_an_empty_root_the_release_file_shakes_hands_and_serves_grpc(
    root: Path, served: tuple[subprocess.Popen[str], str, Path, Path]
) -> None:
    proc, line, cert_path, key_path = served
    match = HANDSHAKE.match(line)
    assert match, line
    socket_path = root / match["path"].lstrip("/")  # the same socket, seen from outside

    async def talk() -> tuple[int, str]:
        channel = Channel(
            path=str(socket_path),
            ssl=client_ssl(cert_path, key_path, match["cert"]),
            config=Configuration(ssl_target_name_override="localhost"),
        )
        try:
            status = await health(channel)(HealthCheckRequest(service="plugin"))
            reply = await version(channel)(
                version_pb2.Empty(), metadata={"multiplex_id": "abcdefghij"}
            )
            return status.status, reply.plugin_version
        finally:
            channel.close()

    assert asyncio.run(talk()) == (HealthCheckResponse.SERVING, PLUGIN_VERSION)
    # Its dependencies were unpacked where it was told, inside the root.
    assert any((root / "tmp" / "unpack").iterdir())
    assert stop_in_root(proc) == 0
    assert proc.stderr is not None
    log = proc.stderr.read()
    # The key pair came from the child process (the release file started again), not from
    # the fallback that would hide a child unable to start.
    assert "the certificate process failed" not in log
    assert "cannot start the certificate process" not in log


class VaultInRoot(VaultServer):
    """A dev Vault started in ``root`` (its binary copied there), whose whole environment is
    HOME: no PATH, so no Python to find even if the root had one."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)  # its plugin directory is root/plugins, /plugins inside
        shutil.copyfile(self.binary, root / "vault")
        (root / "vault").chmod(0o755)

    def _command(self) -> list[str]:
        inside = [
            "/vault",
            "server",
            "-dev",
            "-dev-root-token-id=root",
            f"-dev-listen-address=127.0.0.1:{self.port}",
            "-dev-plugin-dir=/plugins",
            "-dev-plugin-init=false",
            "-log-level=debug",
        ]
        return in_root(self.workdir, inside, {"HOME": "/home"})

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            stop_in_root(self.process, sig)
            self.process = None


def plugin_environment(root: Path) -> list[dict[str, str]]:
    """The environment of each process running the release file inside ``root``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/root") != os.path.realpath(root):
                continue
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if cmdline[0].decode() != f"/plugins/{PLUGIN_NAME}":
                continue
            raw = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        pairs = (item.decode().partition("=") for item in raw.split(b"\0") if item)
        found.append({name: value for name, _, value in pairs})
    return found


def test_a_vault_without_python_issues_a_credential_through_the_release_file(
    root: Path, emulator: RunningEmulator
) -> None:
    vault = VaultInRoot(root).start()
    try:
        sha256 = hashlib.sha256((root / "plugins" / PLUGIN_NAME).read_bytes()).hexdigest()
        vault.cli("plugin", "register", f"-sha256={sha256}", "secret", PLUGIN_NAME)
        vault.cli("secrets", "enable", "-path=tc", PLUGIN_NAME)
        vault.cli(
            "write",
            "tc/config",
            f"secret_id={emulator.secret_id}",
            f"secret_key={emulator.secret_key}",
            f"cam_endpoint={emulator.endpoint}",
            f"sts_endpoint={emulator.endpoint}",
        )
        vault.cli("write", "tc/role/reader", "remote_policies=policy_name:ReadOnlyAccess,scope:All")
        before = emulator.counters()
        issued = vault.cli("read", "-format=json", "tc/creds/reader").json()
        after = emulator.counters()
        calls = {
            action: after[action]["calls"] - before.get(action, {}).get("calls", 0)
            for action in after
            if after[action]["calls"] != before.get(action, {}).get("calls", 0)
        }
        assert calls == {"AddUser": 1, "AddUserToGroup": 1}
        data = issued["data"]
        with client_as(emulator, data["secret_id"], data["secret_key"]) as as_user:
            assert as_user.sts.get_caller_identity().type == "CAMUser"

        environments = plugin_environment(root)
        assert environments, "no process runs the release file in the root"
        assert all("PATH" not in env for env in environments)

        vault.cli("lease", "revoke", "-sync", issued["lease_id"])
        assert data["username"] not in user_names(emulator)
    finally:
        vault.stop()
