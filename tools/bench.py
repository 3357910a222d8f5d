"""The benchmark: the plugin in a real Vault against the emulator, next to a Go plugin doing
the same work. Reports JSON and a Markdown table; never asserts.

Scenarios (``--only`` picks some; ``--quick`` shrinks all of them to a smoke run):

  a  per-request cost: ``role/<name>`` read through our plugin (served from its storage cache
     after the first read) and through a Go plugin built from Vault's own sdk that does one
     storage get for it (tools/bench/goplugin), in one
     Vault, at 1, 8 and 32 clients; targets alternate round by round so that noise on the
     machine hits both alike. Vault's own ``sys/mounts/<mount>/tune`` is the floor.
  b  ``creds`` issue and revoke latency, CAM and STS, with the emulator answering after 0 and
     50 ms; throughput at 1, 8, 32 clients; Tencent API calls per lease from its counters.
  c  a revocation storm: N CAM leases revoked by prefix while DeleteUser is throttled at
     20/s: wall time against the N/20 s floor, users left without a lease (orphans),
     irrevocable leases.
  d  start and memory: exec to handshake (cold: fresh unpack; warm), mount to first
     credential (cold and warm), resident memory of the plugin after N leases.
  s  credentials at scale over TLS, the way production reaches the cloud: a catalog entry of
     our plugin (and of the baseline) whose only way out is HTTPS_PROXY to the cloud's
     stand-in (tools/bench/cloudstub, ``--cloud-stub``), which answers CAM and STS at their
     public names after 50 ms. STS creds at 1, 8, 32 and 64 clients, targets alternating
     round by round; CAM creds issued and revoked at 8 clients, with API calls per lease.

``--baseline-plugin PATH --baseline-role-payload JSON`` mounts any other external plugin in
the same Vault (at baseline/) and runs it through the same scenarios, reading and issuing
``role/bench`` and ``creds/bench`` there; in scenario s it is mounted again (at baseline-tls/)
behind the stand-in, with roles ``sts`` and ``cam``.

Numbers from a shared two-core machine are noisy: compare figures of one run, not across
days; the driver itself shares the cores with Vault and the plugins.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import platform
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools import loadgen
from tools.loadgen import Call, Outcome
from tools.probe_backend import launcher_script
from tools.vaultserver import (
    PLUGIN_BIN,
    PLUGIN_NAME,
    VaultServer,
    free_port,
    vault_like_certificate,
)
from tools.zipapp import UNPACK_ENV  # where the zipapp unpacks its dependencies

COOKIE = "6669da05-b1c8-4f49-97d9-c8e5bed98e20"
DEMO_ROLE_ARN = "qcs::cam::uin/100000000001:roleName/vault-demo-role"
# The emulator's seeded root key, which the cloud's stand-in also accepts by default.
DEMO_KEY = {
    "secret_id": "AKIDEmulatorDemoRootKey0000000000000",
    "secret_key": "EmulatorDemoSecretKeyNotReal0000",
}
CAM_ROLE = {"remote_policies": ["policy_name:QcloudCamReadOnlyAccess,scope:All"]}
CONCURRENCY = (1, 8, 32)
LATENCIES_MS = (0, 50)
MOUNT = "tencentcloud"
GO_MOUNT = "go"
BASELINE_MOUNT = "baseline"
PROBE_MOUNT = "probe"
TLS_CONCURRENCY = (1, 8, 32, 64)
TLS_LATENCY_MS = 50
ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How much of each scenario to run."""

    rounds: int = 4
    round_s: float = 3.0
    # Leases issued and revoked one at a time: CPU per lease is read from /proc in 10 ms
    # ticks, so 160 leases measure it to 0.06 ms.
    sequential: int = 160
    burst_s: float = 3.0
    storm: int = 1000
    storm_rate: int = 20
    storm_timeout_s: float = 900.0
    leases_for_memory: int = 10_000
    handshakes_cold: int = 3
    handshakes_warm: int = 11
    tls_cam_leases: int = 200

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            rounds=2,
            round_s=0.5,
            sequential=5,
            burst_s=0.5,
            storm=100,
            storm_timeout_s=180.0,
            leases_for_memory=200,
            handshakes_cold=1,
            handshakes_warm=3,
            tls_cam_leases=20,
        )


@dataclasses.dataclass(frozen=True)
class Creds:
    """A role that issues credentials: where to read them, and what kind they are."""

    label: str
    path: str
    renewable: bool


@dataclasses.dataclass(frozen=True)
class TlsTarget:
    """A plugin of scenario s: its catalog name (to find its process) and its mount."""

    plugin: str
    mount: str


# --- the emulator, as its own process --------------------------------------------------------


class EmulatorProcess:
    """The emulator in a process of its own: its HTTP threads must not share this driver's
    interpreter lock, or the driver's load would slow the cloud it measures."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def __enter__(self) -> EmulatorProcess:
        command = [
            sys.executable,
            "-m",
            "tencentcloud_emulator",
            f"--port={self.port}",
            "--no-throttle",
            "--quota=sub_users=1000000",
            "--log-level=WARNING",
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(self.admin("health"), timeout=1).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("the emulator did not start")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)

    def admin(self, route: str) -> str:
        return f"{self.endpoint}/_emulator/{route}"

    def faults(self, *, latency_ms: int = 0, rates: dict[str, int] | None = None) -> None:
        """Replace the fault configuration: fixed latency, and throttling only of ``rates``."""
        throttle: dict[str, Any] = {"enabled": False}
        if rates:
            throttle = {"enabled": True, "default_rate": 1_000_000, "rates": rates}
        config = {"faults": [], "throttle": throttle, "latency": {"fixed_ms": latency_ms}}
        requests.put(self.admin("faults"), json=config, timeout=10).raise_for_status()

    def clear_counters(self) -> None:
        requests.delete(self.admin("requests"), timeout=10).raise_for_status()

    def counters(self) -> dict[str, dict[str, int]]:
        answer: dict[str, dict[str, int]] = requests.get(self.admin("counters"), timeout=30).json()
        return answer

    def usernames(self) -> set[str]:
        state = requests.get(self.admin("state"), timeout=60).json()
        return {user["Name"] for account in state["accounts"] for user in account["Users"]}


# --- the cloud's stand-in (scenario s), as its own process -------------------------------------


@dataclasses.dataclass(frozen=True)
class StubPorts:
    """Where the stand-in listens, from the line it prints once every port accepts."""

    proxy_port: int
    admin_port: int
    ca_file: Path
    https_port: int | None = None


def parse_ready_line(line: bytes) -> StubPorts:
    """The stand-in's first line on stdout: one JSON object naming its ports and CA file.
    Anything else (nothing at all, a crash) means it did not start."""
    try:
        fields = json.loads(line)
        https = fields.get("https_port")
        return StubPorts(
            proxy_port=int(fields["proxy_port"]),
            admin_port=int(fields["admin_port"]),
            ca_file=Path(str(fields["ca_file"])),
            https_port=None if https is None else int(https),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise RuntimeError(f"the cloud stand-in did not start: {line[:200]!r}") from None


class CloudStubProcess:
    """tools/bench/cloudstub: CAM and STS at their public names over TLS, reached through its
    CONNECT proxy, answering after a set latency. A compiled process of its own, so that the
    cloud costs little of the two cores and its CPU can be read apart from the plugins'."""

    def __init__(self, binary: Path, workdir: Path) -> None:
        self.binary = binary
        self.ca_file = workdir / "cloudstub-ca.pem"
        self.process: subprocess.Popen[bytes] | None = None
        self._ports: StubPorts | None = None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    @property
    def ports(self) -> StubPorts:
        if self._ports is None:
            raise RuntimeError("the cloud stand-in is not running")
        return self._ports

    def __enter__(self) -> CloudStubProcess:
        command = [str(self.binary), f"-ca-file={self.ca_file}"]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE)
        try:
            assert self.process.stdout is not None
            ready, _, _ = select.select([self.process.stdout], [], [], 30)
            line = self.process.stdout.readline() if ready else b""
            self._ports = parse_ready_line(line)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None

    def admin(self, route: str) -> str:
        return f"http://127.0.0.1:{self.ports.admin_port}/{route}"

    def plugin_env(self, *, python: bool) -> tuple[str, ...]:
        """What sends a plugin's calls to the stand-in: the proxy and the CA to trust. Go reads
        the bundle from SSL_CERT_FILE; our plugin from the first of REQUESTS_CA_BUNDLE,
        CURL_CA_BUNDLE and SSL_CERT_FILE that is set, and the host may set the first itself."""
        env = (
            f"HTTPS_PROXY=http://127.0.0.1:{self.ports.proxy_port}",
            f"SSL_CERT_FILE={self.ca_file}",
        )
        return (*env, f"REQUESTS_CA_BUNDLE={self.ca_file}") if python else env

    def set_latency(self, ms: int) -> None:
        requests.put(self.admin(f"latency?ms={ms}"), timeout=10).raise_for_status()

    def clear_counters(self) -> None:
        requests.delete(self.admin("counters"), timeout=10).raise_for_status()

    def counters(self) -> dict[str, dict[str, int]]:
        answer: dict[str, dict[str, int]] = requests.get(self.admin("counters"), timeout=10).json()
        return answer

    def state(self) -> dict[str, int]:
        """Users, keys, groups and policies that exist, and tunnels opened so far."""
        answer: dict[str, int] = requests.get(self.admin("state"), timeout=10).json()
        return answer


# --- Vault with the plugins ------------------------------------------------------------------


class Bench:
    def __init__(self, vault: VaultServer, emulator: EmulatorProcess, sizes: Sizes) -> None:
        self.vault = vault
        self.emulator = emulator
        self.sizes = sizes
        self.http = loadgen.VaultHTTP(vault.addr, vault.token)
        self.baseline: Creds | None = None
        self.reads: dict[str, str] = {}
        self.hey: Path | None = None  # scenario a's driver, when given (--hey)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.http.json(Call(method, path, body))

    def register(
        self, name: str, source: Path, env: tuple[str, ...] = (), mount: str | None = None
    ) -> None:
        sha = self.vault.install_plugin(name, source)
        # Go plugins stopped with Vault leave their sockets in TMPDIR: keep them in Vault's
        # own directory, which goes when the run ends.
        scratch = self.vault.workdir / "plugin-tmp"
        scratch.mkdir(exist_ok=True)
        flags = [f"-env={item}" for item in (f"TMPDIR={scratch}", *env)]
        self.vault.cli("plugin", "register", f"-sha256={sha}", *flags, "secret", name)
        if mount:
            self.vault.cli("secrets", "enable", f"-path={mount}", name)

    def config(self) -> dict[str, Any]:
        return {
            **DEMO_KEY,
            "cam_endpoint": self.emulator.endpoint,
            "sts_endpoint": self.emulator.endpoint,
        }

    def set_up_ours(self, mount: str = MOUNT) -> None:
        self.call("PUT", f"{mount}/config", self.config())
        self.call("PUT", f"{mount}/role/cam", CAM_ROLE)
        self.call("PUT", f"{mount}/role/sts", {"role_arn": DEMO_ROLE_ARN})
        self.call("PUT", f"{mount}/role/bench", {"role_arn": DEMO_ROLE_ARN, "ttl": 3600})

    def set_up_go(self, plugin: Path) -> None:
        self.register("go-baseline", plugin, mount=GO_MOUNT)
        # The same document our plugin answers, so both answers are the same size.
        document = self.call("GET", f"{MOUNT}/role/bench")["data"]
        self.call("PUT", f"{GO_MOUNT}/roles/bench", {"data": json.dumps(document)})
        self.reads["go"] = f"{GO_MOUNT}/roles/bench"

    def set_up_storage_read(self) -> None:
        """The same shim and framework with an engine whose read makes one storage get each
        time (the test suite's probe backend, run from the sources at info level): the same
        calls as the Go plugin's read, where ours answers from its cache."""
        launcher = self.vault.workdir / "storage-probe"
        launcher.write_text(launcher_script(ROOT, logging.INFO))
        self.register("storage-probe", launcher, mount=PROBE_MOUNT)
        # Revoking a probe lease stores a mark; reading it is one storage get, every time.
        lease = self.call("PUT", f"{PROBE_MOUNT}/lease/bench", {"ttl": 3600})
        self.revoke_all([lease["lease_id"]], clients=1)
        self.reads["python, storage get"] = f"{PROBE_MOUNT}/marks/revoked/bench"

    def set_up_baseline(
        self, plugin: Path, payload: dict[str, Any], config: dict[str, Any], env: tuple[str, ...]
    ) -> None:
        self.register("baseline-plugin", plugin, env, mount=BASELINE_MOUNT)
        self.call("PUT", f"{BASELINE_MOUNT}/config", config)
        self.call("PUT", f"{BASELINE_MOUNT}/role/bench", payload)
        self.reads["baseline"] = f"{BASELINE_MOUNT}/role/bench"
        probe = self.call("GET", f"{BASELINE_MOUNT}/creds/bench")
        self.revoke_all([probe["lease_id"]], clients=1)
        self.baseline = Creds("baseline", f"{BASELINE_MOUNT}/creds/bench", probe["renewable"])

    def set_up_tls(
        self,
        stub: CloudStubProcess,
        plugin: Path,
        baseline: tuple[Path, dict[str, Any], tuple[str, ...]] | None,
    ) -> dict[str, TlsTarget]:
        """Scenario s's catalog entries, whose only way to the cloud is the stand-in's proxy.
        Configs carry no endpoint, so the plugins call the public names. The baseline's
        ``cam`` role is its role payload unless that is an STS one (``role_arn``)."""
        targets = {"python": TlsTarget("tc-tls", "tls")}
        self.register("tc-tls", plugin, stub.plugin_env(python=True), mount="tls")
        cam_roles = {"python": CAM_ROLE}
        if baseline is not None:
            path, payload, extra_env = baseline
            env = stub.plugin_env(python=False)
            ours = {item.partition("=")[0] for item in env}
            env += tuple(item for item in extra_env if item.partition("=")[0] not in ours)
            targets["baseline"] = TlsTarget("baseline-tls", "baseline-tls")
            self.register("baseline-tls", path, env, mount="baseline-tls")
            cam_roles["baseline"] = CAM_ROLE if not payload or "role_arn" in payload else payload
        for label, target in targets.items():
            self.call("PUT", f"{target.mount}/config", DEMO_KEY)
            self.call("PUT", f"{target.mount}/role/sts", {"role_arn": DEMO_ROLE_ARN})
            self.call("PUT", f"{target.mount}/role/cam", cam_roles[label])
        return targets

    def creds_targets(self) -> list[Creds]:
        targets = [Creds("cam_user", f"{MOUNT}/creds/cam", True)]
        targets.append(Creds("assumed_role", f"{MOUNT}/creds/sts", False))
        if self.baseline:
            targets.append(self.baseline)
        return targets

    def pid(self, name: str) -> int | None:
        pids = self.vault.plugin_pids(name)
        return pids[0] if pids else None

    # --- helpers --------------------------------------------------------------------------

    def issue(
        self, creds: Creds, *, clients: int, count: int | None, duration: float | None
    ) -> Outcome:
        def calls(client: int, n: int) -> Call | None:
            if count is not None and n * clients + client >= count:
                return None
            return Call("GET", creds.path)

        return loadgen.run(
            self.vault.addr,
            self.vault.token,
            calls,
            clients=clients,
            duration=duration,
            keep=lambda body: _lease(body),
        )

    def revoke_all(self, lease_ids: list[str], *, clients: int) -> Outcome:
        def calls(client: int, n: int) -> Call | None:
            index = n * clients + client
            if index >= len(lease_ids):
                return None
            return Call("PUT", "sys/leases/revoke", {"lease_id": lease_ids[index]})

        return loadgen.run(self.vault.addr, self.vault.token, calls, clients=clients)

    def leases_under(self, prefix: str) -> list[str]:
        status, body = self.http.request(Call("LIST", f"sys/leases/lookup/{prefix}"))
        if status == 404:
            return []
        if status >= 400:
            raise RuntimeError(f"listing leases: HTTP {status}")
        keys: list[str] = json.loads(body)["data"]["keys"]
        return keys

    def irrevocable(self) -> int | None:
        status, body = self.http.request(Call("GET", "sys/leases/count?type=irrevocable"))
        if status >= 400:
            return None
        return int(json.loads(body)["data"]["lease_count"])


def _plugin_name(creds: Creds) -> str:
    return "baseline-plugin" if creds.label == "baseline" else PLUGIN_NAME


def cpu_seconds(pid: int | None) -> float:
    """User plus system CPU time of a process so far (0 when it is unknown)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _lease(body: bytes) -> dict[str, Any]:
    answer = json.loads(body)
    return {"lease_id": answer["lease_id"], "username": answer["data"].get("username", "")}


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


# --- a: per-request cost ---------------------------------------------------------------------


def scenario_requests(bench: Bench) -> dict[str, Any]:
    targets = {"python": f"{MOUNT}/role/bench", **bench.reads}
    targets["vault floor"] = f"sys/mounts/{MOUNT}/tune"
    names = list(targets)
    for path in targets.values():  # warm connections, caches and the plugins' code paths
        loadgen.run(
            bench.vault.addr,
            bench.vault.token,
            lambda c, n, p=path: Call("GET", p) if n < 100 else None,  # type: ignore[misc]
            clients=4,
        )
    result: dict[str, Any] = {}
    for clients in CONCURRENCY:
        merged = {name: Outcome() for name in names}
        for round_number in range(bench.sizes.rounds):
            order = names if round_number % 2 == 0 else list(reversed(names))
            for name in order:
                merged[name].merge(_read_load(bench, targets[name], clients))
        level: dict[str, Any] = {name: outcome.stats() for name, outcome in merged.items()}
        if "go" in level and level["go"].get("p50"):
            go = level["go"]
            level["over_go"] = {
                name: {
                    "p50": round(ours["p50"] / go["p50"], 2),
                    "p95": round(ours["p95"] / go["p95"], 2),
                    "req_per_s": round(ours["req_per_s"] / go["req_per_s"], 2),
                }
                for name, ours in level.items()
                if name.startswith("python") and ours.get("p50")
            }
        result[str(clients)] = level
        _progress(f"a: {clients} clients done")
    return result


def _read_load(bench: Bench, path: str, clients: int, duration: float | None = None) -> Outcome:
    seconds = bench.sizes.round_s if duration is None else duration
    if bench.hey:
        return loadgen.run_hey(
            str(bench.hey),
            bench.vault.addr,
            bench.vault.token,
            path,
            clients=clients,
            duration=seconds,
        )
    return loadgen.run(
        bench.vault.addr,
        bench.vault.token,
        lambda c, n: Call("GET", path),
        clients=clients,
        duration=seconds,
    )


# --- b: creds latency, throughput, calls per lease --------------------------------------------


def scenario_creds(bench: Bench) -> dict[str, Any]:
    sizes = bench.sizes
    result: dict[str, Any] = {}
    for latency in LATENCIES_MS:
        bench.emulator.faults(latency_ms=latency)
        per_latency: dict[str, Any] = {}
        for creds in bench.creds_targets():
            entry: dict[str, Any] = {}
            bench.emulator.clear_counters()
            pids = {"plugin": bench.pid(_plugin_name(creds)), "emulator": bench.emulator.pid}
            cpu_before = {k: cpu_seconds(p) for k, p in pids.items()}
            issued = bench.issue(creds, clients=1, count=sizes.sequential, duration=None)
            revoked = bench.revoke_all([a["lease_id"] for a in issued.answers], clients=1)
            counters = bench.emulator.counters()
            leases = max(1, len(issued.answers))
            entry["cpu_ms_per_lease"] = {
                k: round((cpu_seconds(p) - cpu_before[k]) * 1000 / leases, 2)
                for k, p in pids.items()
            }
            entry["issue_ms"] = issued.stats()
            entry["revoke_ms"] = revoked.stats()
            entry["api_calls_per_lease"] = round(
                sum(c["calls"] for c in counters.values()) / leases, 2
            )
            entry["api_calls_by_action"] = {
                action: round(c["calls"] / leases, 2) for action, c in counters.items()
            }
            throughput: dict[str, Any] = {}
            for clients in CONCURRENCY:
                burst = bench.issue(creds, clients=clients, count=None, duration=sizes.burst_s)
                ids = [a["lease_id"] for a in burst.answers]
                cleanup = bench.revoke_all(ids, clients=clients)
                throughput[str(clients)] = {
                    "issue_per_s": round(burst.rate, 1),
                    "issue_p50_ms": burst.stats().get("p50"),
                    "revoke_per_s": round(cleanup.rate, 1),
                    "revoke_p95_ms": cleanup.stats().get("p95"),
                    "revoke_max_ms": round(max(cleanup.latencies_ms, default=0.0), 1),
                    "errors": burst.errors + cleanup.errors,
                    "first_error": burst.first_error or cleanup.first_error,
                }
            entry["throughput"] = throughput
            per_latency[creds.label] = entry
            _progress(f"b: {creds.label} at {latency} ms done")
        result[f"{latency}ms"] = per_latency
    bench.emulator.faults()
    return result


# --- c: revocation storm -----------------------------------------------------------------------


def scenario_storm(bench: Bench, creds: Creds) -> dict[str, Any]:
    sizes = bench.sizes
    bench.emulator.faults()
    issued = bench.issue(creds, clients=8, count=sizes.storm, duration=None)
    usernames = {a["username"] for a in issued.answers if a["username"]}
    prefix = creds.path + "/"
    bench.emulator.faults(rates={"DeleteUser": sizes.storm_rate})
    bench.emulator.clear_counters()
    start = time.monotonic()
    bench.call("PUT", f"sys/leases/revoke-prefix/{creds.path}", {"sync": False})
    users_gone_at: float | None = None
    leases_gone_at: float | None = None
    while time.monotonic() - start < sizes.storm_timeout_s:
        time.sleep(1.0)
        left = bench.emulator.usernames() & usernames
        leases = bench.leases_under(prefix)
        now = time.monotonic() - start
        if not left and users_gone_at is None:
            users_gone_at = now
        if not leases and leases_gone_at is None:
            leases_gone_at = now
        if users_gone_at is not None and leases_gone_at is not None:
            break
        irrevocable = bench.irrevocable() or 0
        if irrevocable and irrevocable >= len(leases):
            break  # Vault gave up on what is left
    leases = bench.leases_under(prefix)
    left = bench.emulator.usernames() & usernames
    pending = {a["username"] for a in issued.answers if a["lease_id"].rsplit("/", 1)[-1] in leases}
    delete = bench.emulator.counters().get("DeleteUser", {})
    bench.emulator.faults()
    return {
        "leases": len(issued.answers),
        "issue_errors": issued.errors,
        "delete_user_rate_per_s": sizes.storm_rate,
        "floor_s": round(len(issued.answers) / sizes.storm_rate, 1),
        "users_gone_s": None if users_gone_at is None else round(users_gone_at, 1),
        "leases_gone_s": None if leases_gone_at is None else round(leases_gone_at, 1),
        "gave_up_after_s": None
        if leases_gone_at is not None
        else round(time.monotonic() - start, 1),
        "users_left": len(left),
        "orphans": len(left - pending),
        "leases_left": len(leases),
        "irrevocable": bench.irrevocable(),
        "delete_user_calls": delete.get("calls", 0),
        "delete_user_throttled": delete.get("RequestLimitExceeded", 0),
    }


# --- d: start and memory -------------------------------------------------------------------------


def handshake_ms(plugin: Path, runs: int, *, cold: bool) -> list[float]:
    """Exec to the handshake line on stdout, as Vault's launcher waits for it. Cold: the
    zipapp unpacks its dependencies first (a fresh unpack directory each run; all are removed
    at the end, so no deletion's disk work lands in a timed launch). Warm: after one untimed
    launch that unpacks."""
    unpack_root = tempfile.mkdtemp(prefix="bench-unpack-")
    # A Go plugin killed before Vault's controller asks it to stop leaves its socket behind:
    # give each run a temporary directory of its own, removed at the end.
    scratch = tempfile.mkdtemp(prefix="bench-handshake-")
    env = {
        **os.environ,
        "VAULT_BACKEND_PLUGIN": COOKIE,
        "PLUGIN_PROTOCOL_VERSIONS": "5",
        "VAULT_PLUGIN_AUTOMTLS_ENABLED": "true",  # as Vault's launcher sets it
        "PLUGIN_CLIENT_CERT": vault_like_certificate()[0].decode(),
        UNPACK_ENV: unpack_root,
        "TMPDIR": scratch,
    }
    times: list[float] = []
    try:
        for number in range(runs + (0 if cold else 1)):
            if cold:
                env[UNPACK_ENV] = os.path.join(unpack_root, str(number))
            start = time.perf_counter()
            proc = subprocess.Popen(
                [str(plugin)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
            )
            assert proc.stdout is not None
            line = proc.stdout.readline()
            elapsed = (time.perf_counter() - start) * 1000
            proc.terminate()
            proc.wait(10)
            if not line.startswith(b"1|"):
                raise RuntimeError(f"unexpected handshake: {line[:40]!r}")
            if cold or number:
                times.append(elapsed)
    finally:
        shutil.rmtree(unpack_root, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    return times


def scenario_handshake(plugins: dict[str, Path], sizes: Sizes) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for label, plugin in plugins.items():
        warm = handshake_ms(plugin, sizes.handshakes_warm, cold=False)
        entry = {"warm_median_ms": round(statistics.median(warm), 1)}
        if label == "python":  # only the zipapp has an unpack step
            cold = handshake_ms(plugin, sizes.handshakes_cold, cold=True)
            entry["cold_median_ms"] = round(statistics.median(cold), 1)
        result[label] = entry
    return result


def mount_to_first_credential(
    bench: Bench, plugin: Path, unpack_dir: Path, label: str
) -> dict[str, float]:
    """A new catalog entry (so a new process) mounted, configured, a role written and its
    first credential read: what an operator waits for after `vault secrets enable`."""
    name = f"tc-start-{label}"
    bench.register(name, plugin, (f"{UNPACK_ENV}={unpack_dir}",))
    if label == "cold":
        # Registration ran the plugin once (Vault asks it for its version): undo its unpack.
        for child in unpack_dir.iterdir():
            shutil.rmtree(child, ignore_errors=True)
    mount = f"start-{label}"
    begin = time.perf_counter()
    bench.vault.cli("secrets", "enable", f"-path={mount}", name)
    enabled = time.perf_counter()
    bench.set_up_ours(mount)
    configured = time.perf_counter()
    lease = bench.call("GET", f"{mount}/creds/cam")
    done = time.perf_counter()
    bench.call("PUT", "sys/leases/revoke", {"lease_id": lease["lease_id"]})
    bench.vault.cli("secrets", "disable", mount)
    return {
        "enable_ms": _ms(enabled - begin),
        "config_and_roles_ms": _ms(configured - enabled),
        "first_credential_ms": _ms(done - configured),
        "total_ms": _ms(done - begin),
    }


def rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def scenario_memory(bench: Bench, plugin_names: dict[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    targets = {"python": Creds("cam_user", f"{MOUNT}/creds/cam", True)}
    if bench.baseline:
        targets["baseline"] = bench.baseline
    for label, creds in targets.items():
        pid = bench.pid(plugin_names[label])
        before = rss_mb(pid)
        issued = bench.issue(creds, clients=8, count=bench.sizes.leases_for_memory, duration=None)
        result[label] = {
            "rss_before_mb": before,
            "leases": len(issued.answers),
            "errors": issued.errors,
            "issue_per_s": round(issued.rate, 1),
            "rss_after_mb": rss_mb(pid),
        }
        _progress(f"d: {label} memory after {len(issued.answers)} leases done")
    if "go" in plugin_names:
        result["go_idle"] = {"rss_mb": rss_mb(bench.pid(plugin_names["go"]))}
    return result


# --- s: credentials over TLS, through the cloud's stand-in ----------------------------------------


def machine_jiffies() -> tuple[int, int]:
    """Busy and total CPU time of the whole machine so far, from /proc/stat (all cores)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


def per_lease_ms(spent_s: dict[str, float], leases: int) -> dict[str, float | None]:
    """CPU seconds spent by each process, as milliseconds per lease issued."""
    return {k: round(v * 1000 / leases, 2) if leases else None for k, v in spent_s.items()}


def ratios(ours: dict[str, Any], theirs: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """ours/theirs for each key both have a non-zero figure for (None otherwise)."""
    out: dict[str, Any] = {}
    for key in keys:
        a, b = ours.get(key), theirs.get(key)
        out[key] = round(a / b, 2) if a and b else None
    return out


class CpuMeter:
    """CPU seconds of a few processes, summed over the intervals measured with it."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = pids
        self.spent = dict.fromkeys(pids, 0.0)

    @contextlib.contextmanager
    def measuring(self) -> Iterator[None]:
        before = {k: cpu_seconds(p) for k, p in self.pids.items()}
        yield
        for k, p in self.pids.items():
            self.spent[k] += cpu_seconds(p) - before[k]


def _revoke_sts(bench: Bench, mount: str) -> float:
    """Revoke every STS lease of a mount and wait for it; the seconds it took."""
    begin = time.perf_counter()
    bench.call("PUT", f"sys/leases/revoke-prefix/{mount}/creds/sts", {"sync": True})
    return round(time.perf_counter() - begin, 2)


def scenario_tls(bench: Bench, options: Options) -> dict[str, Any]:
    assert options.cloud_stub is not None
    baseline = None
    if options.baseline_plugin:
        baseline = (options.baseline_plugin, options.baseline_payload, options.baseline_env)
    with CloudStubProcess(options.cloud_stub, bench.vault.workdir) as stub:
        targets = bench.set_up_tls(stub, options.plugin, baseline)
        stub.set_latency(TLS_LATENCY_MS)
        result: dict[str, Any] = {"latency_ms": TLS_LATENCY_MS}
        result["sts"] = _tls_sts(bench, stub, targets)
        result["cam"] = _tls_cam(bench, stub, targets)
    return result


def _tls_sts(bench: Bench, stub: CloudStubProcess, targets: dict[str, TlsTarget]) -> dict[str, Any]:
    sizes = bench.sizes
    vault_pid = bench.vault.process.pid if bench.vault.process else None
    names = list(targets)
    for target in targets.values():  # connections, pools and code paths, then no lease left
        _read_load(bench, f"{target.mount}/creds/sts", 8, duration=min(1.0, sizes.round_s))
        _revoke_sts(bench, target.mount)
    result: dict[str, Any] = {}
    for clients in TLS_CONCURRENCY:
        merged = {name: Outcome() for name in names}
        tunnels = dict.fromkeys(names, 0)
        meters = {
            name: CpuMeter({"plugin": bench.pid(t.plugin), "stub": stub.pid, "vault": vault_pid})
            for name, t in targets.items()
        }
        busy_before, total_before = machine_jiffies()
        for round_number in range(sizes.rounds):
            order = names if round_number % 2 == 0 else list(reversed(names))
            for name in order:
                opened = stub.state()["tunnels"]
                with meters[name].measuring():
                    outcome = _read_load(bench, f"{targets[name].mount}/creds/sts", clients)
                tunnels[name] += stub.state()["tunnels"] - opened
                merged[name].merge(outcome)
        busy_after, total_after = machine_jiffies()
        level: dict[str, Any] = {}
        for name in names:
            outcome = merged[name]
            entry: dict[str, Any] = outcome.stats()
            entry["leases"] = len(outcome.latencies_ms)
            entry["cpu_ms_per_lease"] = per_lease_ms(meters[name].spent, entry["leases"])
            # A new connection (CONNECT, then a TLS handshake) for how many leases in 100.
            entry["tunnels_per_100_leases"] = (
                round(100 * tunnels[name] / entry["leases"], 1) if entry["leases"] else None
            )
            if outcome.first_error:
                entry["first_error"] = outcome.first_error
            entry["revoke_s"] = _revoke_sts(bench, targets[name].mount)
            level[name] = entry
        if "baseline" in level:
            level["python_over_baseline"] = ratios(
                level["python"], level["baseline"], ("req_per_s", "p50")
            )
        wall = sum(merged[name].elapsed_s for name in names)
        stub_s = sum(meter.spent["stub"] for meter in meters.values())
        level["stub_cpu_pct"] = round(100 * stub_s / wall, 1) if wall else None
        elapsed = total_after - total_before
        level["machine_busy_pct"] = (
            round(100 * (busy_after - busy_before) / elapsed, 1) if elapsed else None
        )
        result[str(clients)] = level
        _progress(f"s: STS at {clients} clients done")
    return result


def _tls_cam(bench: Bench, stub: CloudStubProcess, targets: dict[str, TlsTarget]) -> dict[str, Any]:
    vault_pid = bench.vault.process.pid if bench.vault.process else None
    result: dict[str, Any] = {}
    for name, target in targets.items():
        creds = Creds(name, f"{target.mount}/creds/cam", True)
        pids = {"plugin": bench.pid(target.plugin), "stub": stub.pid, "vault": vault_pid}
        issuing, revoking = CpuMeter(pids), CpuMeter(pids)
        stub.clear_counters()
        before = stub.state()
        with issuing.measuring():
            issued = bench.issue(creds, clients=8, count=bench.sizes.tls_cam_leases, duration=None)
        with revoking.measuring():
            revoked = bench.revoke_all([a["lease_id"] for a in issued.answers], clients=8)
        counters = stub.counters()
        after = stub.state()
        leases = len(issued.answers)
        issue, revoke = issued.stats(), revoked.stats()
        spent = {k: issuing.spent[k] + revoking.spent[k] for k in pids}
        result[name] = {
            "leases": leases,
            "issue_ms": issue,
            "revoke_ms": revoke,
            "errors": issued.errors + revoked.errors,
            "first_error": issued.first_error or revoked.first_error,
            "api_calls_per_lease": round(
                sum(c["calls"] for c in counters.values()) / max(1, leases), 2
            ),
            "api_calls_by_action": {
                action: round(c["calls"] / max(1, leases), 2) for action, c in counters.items()
            },
            "api_failures": {
                action: {code: n for code, n in c.items() if code not in ("calls", "Success")}
                for action, c in counters.items()
                if c["calls"] != c.get("Success", 0)
            },
            "cpu_ms_per_lease": {
                "plugin_issue": per_lease_ms(issuing.spent, leases)["plugin"],
                "plugin_revoke": per_lease_ms(revoking.spent, leases)["plugin"],
                **per_lease_ms(spent, leases),
            },
            "tunnels_per_100_leases": (
                round(100 * (after["tunnels"] - before["tunnels"]) / leases, 1) if leases else None
            ),
            "users_left": after["users"] - before["users"],
        }
        _progress(f"s: CAM {name} done")
    return result


# --- report ------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def markdown(report: dict[str, Any]) -> str:
    lines: list[str] = []
    info = report["machine"]
    lines.append(
        f"Measured {info['date']} on {info['cpus']} cores ({info['cpu']}), Vault "
        f"{report.get('vault', '?')}, Python {info['python']}; mode: {report['mode']}."
    )
    if "requests" in report:
        lines += [
            "",
            "**a. Per-request cost: role read** (the Go plugin does one storage get; ours "
            "answers from memory after the first read; `python, storage get` is the same shim "
            "and framework making one storage get per read), driven by "
            f"{report.get('requests_driver', 'python threads')}",
            "",
            "| clients | target | p50 ms | p95 ms | req/s | /go p50 | /go req/s |",
            "|---|---|---|---|---|---|---|",
        ]
        for clients, level in report["requests"].items():
            ratios = level.get("over_go", {})
            for name, stats in level.items():
                if name == "over_go":
                    continue
                extra = ("", "")
                if name in ratios:
                    ratio = ratios[name]
                    extra = (f"{ratio['p50']}x", f"{ratio['req_per_s']}x")
                lines.append(
                    f"| {clients} | {name} | {_cell(stats.get('p50'))} | "
                    f"{_cell(stats.get('p95'))} | {_cell(stats.get('req_per_s'))} | "
                    f"{extra[0]} | {extra[1]} |"
                )
    if "creds" in report:
        lines += [
            "",
            "**b. Credentials: sequential latency, throughput, Tencent API calls per lease**",
            "",
            "| emulator latency | type | issue p50/p95 ms | revoke p50/p95 ms | issue/s at 1/8/32 "
            "| revoke/s at 1/8/32 | API calls per lease | CPU ms per lease: plugin, emulator |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for latency, kinds in report["creds"].items():
            for kind, entry in kinds.items():
                t = entry["throughput"]
                issue_rates = "/".join(_cell(t[str(c)]["issue_per_s"]) for c in CONCURRENCY)
                revoke_rates = "/".join(_cell(t[str(c)]["revoke_per_s"]) for c in CONCURRENCY)
                by_action = ", ".join(
                    f"{a} {n:g}" for a, n in sorted(entry["api_calls_by_action"].items())
                )
                lines.append(
                    f"| {latency} | {kind} | {_cell(entry['issue_ms'].get('p50'))}/"
                    f"{_cell(entry['issue_ms'].get('p95'))} | "
                    f"{_cell(entry['revoke_ms'].get('p50'))}/{_cell(entry['revoke_ms'].get('p95'))}"
                    f" | {issue_rates} | {revoke_rates} | {entry['api_calls_per_lease']:g} "
                    f"({by_action or 'none'}) | {entry['cpu_ms_per_lease']['plugin']}, "
                    f"{entry['cpu_ms_per_lease']['emulator']} |"
                )
    if "storm" in report:
        lines += [
            "",
            "**c. Revocation storm (revoke-prefix, DeleteUser throttled)**",
            "",
            "| target | leases | DeleteUser/s | floor s | users gone s | leases gone s | orphans "
            "| leases left | irrevocable | DeleteUser calls (throttled) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for label, s in report["storm"].items():
            lines.append(
                f"| {label} | {s['leases']} | {s['delete_user_rate_per_s']} | {s['floor_s']} | "
                f"{_cell(s['users_gone_s'])} | {_cell(s['leases_gone_s'])} | {s['orphans']} | "
                f"{s['leases_left']} | {_cell(s['irrevocable'])} | {s['delete_user_calls']} "
                f"({s['delete_user_throttled']}) |"
            )
    if "start" in report:
        start = report["start"]
        lines += [
            "",
            "**d. Start and memory**",
            "",
            "| what | figure |",
            "|---|---|",
        ]
        for label, entry in start.get("handshake", {}).items():
            for key, value in entry.items():
                lines.append(f"| {label} exec to handshake, {key.replace('_', ' ')} | {value} |")
        for kind, entry in start.get("mount_to_first_credential", {}).items():
            lines.append(
                f"| mount to first credential, {kind} | {entry['total_ms']} ms (enable "
                f"{entry['enable_ms']}, config+roles {entry['config_and_roles_ms']}, first "
                f"credential {entry['first_credential_ms']}) |"
            )
    if "memory" in report:
        for label, entry in report["memory"].items():
            if "leases" in entry:
                lines.append(
                    f"| {label} RSS after mount / after {entry['leases']} leases | "
                    f"{_cell(entry['rss_before_mb'])} MB / {_cell(entry['rss_after_mb'])} MB "
                    f"(issued at {entry['issue_per_s']}/s, {entry['errors']} errors) |"
                )
            else:
                lines.append(f"| {label} RSS | {_cell(entry['rss_mb'])} MB |")
    if "tls" in report:
        lines += _tls_markdown(report["tls"], report.get("tls_driver", "python threads"))
    return "\n".join(lines) + "\n"


def _tls_markdown(tls: dict[str, Any], driver: str) -> list[str]:
    latency = tls["latency_ms"]
    lines = [
        "",
        "**s. STS credentials at scale over TLS** (each plugin reaches sts.tencentcloudapi.com "
        f"through the stand-in's CONNECT proxy; every call answered after {latency} ms), driven "
        f"by {driver}",
        "",
        "| clients | target | req/s | p50 ms | p95 ms | errors | /baseline req/s | /baseline p50 "
        "| CPU ms per lease: plugin, stand-in, Vault | new connections per 100 leases "
        "| stand-in % of a core | machine busy % | revoke s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for clients, level in tls["sts"].items():
        ratio = level.get("python_over_baseline", {})
        for name, entry in level.items():
            if not isinstance(entry, dict) or "cpu_ms_per_lease" not in entry:
                continue
            cpu = entry["cpu_ms_per_lease"]
            extra = ("", "")
            if name == "python" and ratio:
                extra = (f"{_cell(ratio.get('req_per_s'))}x", f"{_cell(ratio.get('p50'))}x")
            lines.append(
                f"| {clients} | {name} | {_cell(entry.get('req_per_s'))} | "
                f"{_cell(entry.get('p50'))} | {_cell(entry.get('p95'))} | {entry['errors']} | "
                f"{extra[0]} | {extra[1]} | {_cell(cpu['plugin'])}, {_cell(cpu['stub'])}, "
                f"{_cell(cpu['vault'])} | {_cell(entry.get('tunnels_per_100_leases'))} | "
                f"{_cell(level['stub_cpu_pct'])} | "
                f"{_cell(level['machine_busy_pct'])} | {entry['revoke_s']} |"
            )
    lines += [
        "",
        f"**s. CAM credentials over TLS** (stand-in latency {latency} ms; issued, then revoked "
        "one lease per request, 8 clients each)",
        "",
        "| target | leases | issue p50/p95 ms | issue/s | revoke p50/p95 ms | revoke/s "
        "| API calls per lease | CPU ms per lease: plugin issue+revoke, stand-in, Vault "
        "| new connections per 100 leases | errors | users left |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in tls["cam"].items():
        issue, revoke, cpu = entry["issue_ms"], entry["revoke_ms"], entry["cpu_ms_per_lease"]
        by_action = ", ".join(f"{a} {n:g}" for a, n in sorted(entry["api_calls_by_action"].items()))
        lines.append(
            f"| {name} | {entry['leases']} | {_cell(issue.get('p50'))}/{_cell(issue.get('p95'))} | "
            f"{_cell(issue.get('req_per_s'))} | {_cell(revoke.get('p50'))}/"
            f"{_cell(revoke.get('p95'))} | {_cell(revoke.get('req_per_s'))} | "
            f"{entry['api_calls_per_lease']:g} ({by_action or 'none'}) | "
            f"{_cell(cpu['plugin_issue'])}+{_cell(cpu['plugin_revoke'])}, {_cell(cpu['stub'])}, "
            f"{_cell(cpu['vault'])} | {_cell(entry.get('tunnels_per_100_leases'))} | "
            f"{entry['errors']} | {entry['users_left']} |"
        )
    return lines


def _progress(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


@dataclasses.dataclass
class Options:
    plugin: Path
    go_plugin: Path | None
    baseline_plugin: Path | None
    baseline_payload: dict[str, Any]
    baseline_config: dict[str, Any] | None
    baseline_env: tuple[str, ...]
    only: set[str]
    sizes: Sizes
    quick: bool
    hey: Path | None = None
    cloud_stub: Path | None = None


@contextlib.contextmanager
def running(options: Options) -> Iterator[Bench]:
    """The emulator, a Vault dev server, our plugin set up, the Go and baseline plugins."""
    with EmulatorProcess() as emulator, tempfile.TemporaryDirectory() as tmp:
        vault = VaultServer(Path(tmp)).start()
        try:
            bench = Bench(vault, emulator, options.sizes)
            bench.hey = options.hey
            bench.register(PLUGIN_NAME, options.plugin, mount=MOUNT)
            bench.set_up_ours()
            if options.go_plugin:
                bench.set_up_go(options.go_plugin)
            if "a" in options.only:
                bench.set_up_storage_read()
            if options.baseline_plugin and options.only & set("abcd"):
                bench.set_up_baseline(
                    options.baseline_plugin,
                    options.baseline_payload,
                    options.baseline_config or bench.config(),
                    options.baseline_env,
                )
            yield bench
        finally:
            vault.stop()


def measure(options: Options) -> dict[str, Any]:
    report: dict[str, Any] = {"machine": machine(), "mode": "quick" if options.quick else "full"}
    report["vault"] = _vault_version()
    plugins = {"python": options.plugin}
    if options.go_plugin:
        plugins["go"] = options.go_plugin
    if options.baseline_plugin:
        plugins["baseline"] = options.baseline_plugin
    if "d" in options.only:
        report["start"] = {"handshake": scenario_handshake(plugins, options.sizes)}
        _progress("d: handshakes done")
    with running(options) as bench:
        if "a" in options.only:
            report["requests_driver"] = "hey" if options.hey else "python threads"
            report["requests"] = scenario_requests(bench)
        if "b" in options.only:
            report["creds"] = scenario_creds(bench)
        if "c" in options.only:
            storms = {
                "python": scenario_storm(bench, Creds("cam_user", f"{MOUNT}/creds/cam", True))
            }
            _progress("c: storm done")
            if bench.baseline and bench.baseline.renewable:
                storms["baseline"] = scenario_storm(bench, bench.baseline)
            report["storm"] = storms
        if "d" in options.only:
            with tempfile.TemporaryDirectory(prefix="bench-unpack-") as unpacked:
                where = Path(unpacked)
                report["start"]["mount_to_first_credential"] = {
                    "cold": mount_to_first_credential(bench, options.plugin, where, "cold"),
                    "warm": mount_to_first_credential(bench, options.plugin, where, "warm"),
                }
            names = {"python": PLUGIN_NAME, "go": "go-baseline", "baseline": "baseline-plugin"}
            report["memory"] = scenario_memory(bench, names)
        if "s" in options.only:
            report["tls_driver"] = "hey" if options.hey else "python threads"
            report["tls"] = scenario_tls(bench, options)
    return report


def _vault_version() -> str:
    from tools.vaultserver import vault_binary

    out = subprocess.run([str(vault_binary()), "version"], capture_output=True, text=True)
    words = out.stdout.split()
    return words[1].rstrip(",") if len(words) > 1 else "?"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vault", type=Path, help="Vault binary (default: make print-vault)")
    parser.add_argument("--plugin", type=Path, default=PLUGIN_BIN)
    parser.add_argument(
        "--go-plugin", type=Path, help="the Go baseline (tools/bench/goplugin, built by make)"
    )
    parser.add_argument("--baseline-plugin", type=Path, help="another external plugin to compare")
    parser.add_argument(
        "--baseline-role-payload",
        default="{}",
        help="JSON object written to baseline/role/bench (it decides what creds/bench issues)",
    )
    parser.add_argument(
        "--baseline-config",
        help="JSON object written to baseline/config (default: the emulator's key and endpoints, "
        "as our plugin gets them)",
    )
    parser.add_argument(
        "--baseline-env",
        action="append",
        default=[],
        help="KEY=VALUE for the baseline plugin's environment (repeatable), e.g. a proxy",
    )
    parser.add_argument(
        "--hey", type=Path, help="drive scenario a with this hey binary instead of Python threads"
    )
    parser.add_argument(
        "--cloud-stub",
        type=Path,
        help="the cloud's stand-in for scenario s (tools/bench/cloudstub, built by make bench)",
    )
    parser.add_argument(
        "--only", default="abcds", help="scenarios to run, e.g. 'ad' (default abcds)"
    )
    parser.add_argument("--quick", action="store_true", help="a small run of every scenario")
    parser.add_argument("--json-out", type=Path, help="write the JSON report here too")
    parser.add_argument("--markdown-out", type=Path, help="write the Markdown table here too")
    args = parser.parse_args()
    if args.vault:
        os.environ["VAULT_BIN"] = str(args.vault)
    if args.baseline_plugin and args.baseline_role_payload == "{}":
        parser.error("--baseline-plugin needs --baseline-role-payload")
    if "s" in args.only and not args.cloud_stub:
        parser.error(
            "scenario s needs --cloud-stub (make bench builds it), or leave s out of --only"
        )
    options = Options(
        plugin=args.plugin,
        go_plugin=args.go_plugin,
        baseline_plugin=args.baseline_plugin,
        baseline_payload=json.loads(args.baseline_role_payload),
        baseline_config=json.loads(args.baseline_config) if args.baseline_config else None,
        baseline_env=tuple(args.baseline_env),
        only=set(args.only),
        sizes=Sizes.quick() if args.quick else Sizes(),
        quick=args.quick,
        hey=args.hey,
        cloud_stub=args.cloud_stub,
    )
    report = measure(options)
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    if args.markdown_out:
        args.markdown_out.write_text(table)
    print(json.dumps(report))
    print()
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
