"""A real Vault server for the tests, the demo and the benchmarks: the binary `make vault` built
(part of `make bootstrap` and `make test`), or another version's that $VAULT_BIN names
(`make test-vault-versions`).

Dev mode for most tests (in-memory storage, unsealed, root token ``root``); a file-storage
server with init and unseal for the tests that restart Vault on the same data.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import hvac

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_NAME = "vault-plugin-secrets-tencentcloud"
# The plugin the tests register: what `make dev` builds, or another build of it (the release
# file: `make test-release`) named by $TENCENTCLOUD_PLUGIN_BIN.
PLUGIN_BIN = Path(os.environ.get("TENCENTCLOUD_PLUGIN_BIN") or ROOT / "bin" / PLUGIN_NAME).resolve()
RELEASE_FILE = ROOT / "dist" / PLUGIN_NAME


def vault_binary() -> Path:
    """The Vault binary: $VAULT_BIN, or what `make print-vault` names."""
    explicit = os.environ.get("VAULT_BIN")
    if explicit:
        return Path(explicit)
    out = subprocess.run(
        ["make", "-s", "--no-print-directory", "print-vault"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip().splitlines()[-1])


def vault_like_certificate() -> tuple[bytes, bytes]:
    """A self-signed ECDSA P-521 certificate and key (PEM), like Vault's AutoMTLS makes."""
    import datetime as dt

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from tencentcloud_secrets_shim.certificate import self_signed

    return self_signed(ec.SECP521R1(), hashes.SHA512(), lifetime=dt.timedelta(hours=1))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclasses.dataclass
class CommandResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


class VaultServer:
    """One Vault process with its own plugin directory, port, log and (optionally) storage."""

    def __init__(self, workdir: Path, *, dev: bool = True, binary: Path | None = None) -> None:
        self.binary = binary or vault_binary()
        self.workdir = workdir
        self.dev = dev
        self.plugin_dir = workdir / "plugins"
        self.plugin_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = workdir / "data"
        self.log_path = workdir / "vault.log"
        self.port = free_port()
        self.addr = f"http://127.0.0.1:{self.port}"
        self.token = "root"
        self.unseal_key = ""
        self.process: subprocess.Popen[bytes] | None = None

    # --- lifecycle ---------------------------------------------------------------

    def _command(self) -> list[str]:
        if self.dev:
            return [
                str(self.binary),
                "server",
                "-dev",
                "-dev-root-token-id=root",
                f"-dev-listen-address=127.0.0.1:{self.port}",
                f"-dev-plugin-dir={self.plugin_dir}",
                "-dev-plugin-init=false",
                "-log-level=debug",
            ]
        config = self.workdir / "vault.hcl"
        self.data_dir.mkdir(exist_ok=True)
        cluster_port = free_port()
        config.write_text(
            # The minimal build has no "file" backend; single-node raft is what it keeps.
            f'storage "raft" {{\n  path = "{self.data_dir}"\n  node_id = "node1"\n}}\n'
            f'cluster_addr = "http://127.0.0.1:{cluster_port}"\n'
            f'listener "tcp" {{\n  address = "127.0.0.1:{self.port}"\n  tls_disable = true\n}}\n'
            f'plugin_directory = "{self.plugin_dir}"\n'
            f'api_addr = "{self.addr}"\n'
            "disable_mlock = true\n"
            'log_level = "debug"\n'
        )
        return [str(self.binary), "server", f"-config={config}"]

    def start(self) -> VaultServer:
        log = self.log_path.open("ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
        self.process = subprocess.Popen(
            self._command(), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.workdir
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"vault exited early:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"vault did not listen in time:\n{self.log_tail()}")
        if self.dev:
            self._wait_unsealed()
        else:
            self._init_or_unseal()
        return self

    def _wait_unsealed(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if not hvac.Client(url=self.addr).sys.is_sealed():
                    return
            except Exception:  # noqa: S110 - still starting
                pass
            time.sleep(0.1)
        raise RuntimeError(f"vault did not unseal:\n{self.log_tail()}")

    def _init_or_unseal(self) -> None:
        client = hvac.Client(url=self.addr)
        deadline = time.monotonic() + 30
        while True:
            try:
                initialized = client.sys.is_initialized()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        if not initialized:
            result = client.sys.initialize(secret_shares=1, secret_threshold=1)
            self.unseal_key = result["keys"][0]
            self.token = result["root_token"]
        client.sys.submit_unseal_key(self.unseal_key)
        self._wait_unsealed()
        # A freshly unsealed server may still be setting up its mounts.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.client().sys.list_mounted_secrets_engines()
                return
            except Exception:
                time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.port = free_port()
        self.addr = f"http://127.0.0.1:{self.port}"
        self.start()

    # --- use ---------------------------------------------------------------------

    def client(self) -> hvac.Client:
        return hvac.Client(url=self.addr, token=self.token)

    def cli(self, *args: str, check: bool = True, timeout: float = 60) -> CommandResult:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
        env.update(VAULT_ADDR=self.addr, VAULT_TOKEN=self.token, HOME=str(self.workdir))
        proc = subprocess.run(
            [str(self.binary), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
        result = CommandResult(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"vault {' '.join(args)} failed:\n{result.output}")
        return result

    def install_plugin(self, name: str = PLUGIN_NAME, source: Path = PLUGIN_BIN) -> str:
        """Copy the plugin into the plugin directory; return its sha256."""
        target = self.plugin_dir / name
        shutil.copyfile(source, target)
        target.chmod(0o755)
        return sha256_of(target)

    def register(self, name: str = PLUGIN_NAME) -> str:
        sha = self.install_plugin(name)
        self.cli("plugin", "register", f"-sha256={sha}", "secret", name)
        return sha

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def plugin_pids(self, name: str = PLUGIN_NAME) -> list[int]:
        target = str(self.plugin_dir / name)
        out = subprocess.run(["pgrep", "-f", target], capture_output=True, text=True)
        return [int(pid) for pid in out.stdout.split()]
