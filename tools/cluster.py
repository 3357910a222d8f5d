"""A three-node Vault Raft cluster on 127.0.0.1 for the tests, the soak and by hand.

Teams outgrow one Vault server; this is the smallest real cluster that shows what they get:
one active node that runs the lease manager, the rollback manager and the plugin; standbys
that forward; a new active node after the leader goes. Each node is a `VaultServer` (its own
ports, data dir, plugin directory with a copy of the plugin, debug log in its dir), so failure
messages can quote the node that misbehaved.

The harness never leaves a process behind: `close()` stops every node and then kills any
plugin process that outlived its Vault (and says so in `leftover_plugins`).

    python tools/cluster.py up          # start, register, mount at tencentcloud/, wait for ^C
    python tools/cluster.py soak        # the bounded soak (docs/cluster.md)
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import hvac
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.vaultserver import PLUGIN_BIN, PLUGIN_NAME, VaultServer, free_port, sha256_of

# The role the emulator's packaged seed lets the demo key assume.
ARN = "qcs::cam::uin/100000000001:roleName/vault-demo-role"


def wait_until(condition: Callable[[], bool], timeout: float, what: str, step: float = 0.2) -> None:
    """Poll ``condition`` until it holds; a bounded wait, never a timing assertion."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def rss_mb(pid: int) -> float | None:
    """Resident memory of ``pid`` in MiB, or None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        return None
    return None


class ClusterNode(VaultServer):
    """One Raft voter. Its ports are fixed for its life: Raft knows its peers by
    ``cluster_addr``, so a restarted node must come back where it was."""

    def __init__(self, workdir: Path, node_id: str, binary: Path | None = None) -> None:
        super().__init__(workdir, dev=False, binary=binary)
        self.node_id = node_id
        self.cluster_port = free_port()
        self.cluster_addr = f"https://127.0.0.1:{self.cluster_port}"

    def _command(self) -> list[str]:
        config = self.workdir / "vault.hcl"
        self.data_dir.mkdir(exist_ok=True)
        config.write_text(
            # performance_multiplier 1: Raft's production timings (the default 5 is for slow
            # disks), so an election after a killed leader takes seconds, not tens of them.
            f'storage "raft" {{\n  path = "{self.data_dir}"\n  node_id = "{self.node_id}"\n'
            "  performance_multiplier = 1\n}\n"
            f'listener "tcp" {{\n  address = "127.0.0.1:{self.port}"\n'
            f'  cluster_address = "127.0.0.1:{self.cluster_port}"\n  tls_disable = true\n}}\n'
            f'api_addr = "{self.addr}"\n'
            f'cluster_addr = "{self.cluster_addr}"\n'
            f'plugin_directory = "{self.plugin_dir}"\n'
            "disable_mlock = true\n"
            'log_level = "debug"\n'
        )
        return [str(self.binary), "server", f"-config={config}"]

    def launch(self) -> None:
        """Start the process and wait for its listener; sealing is the cluster's business."""
        log = self.log_path.open("ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
        self.process = subprocess.Popen(
            self._command(), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.workdir
        )
        log.close()
        process = self.process

        def listening() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"{self.node_id} exited early:\n{self.log_tail()}")
            try:
                return requests.get(f"{self.addr}/v1/sys/seal-status", timeout=1).ok
            except requests.RequestException:
                return False

        wait_until(listening, 30, f"{self.node_id} to listen")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def health(self) -> int:
        """``sys/health``'s status: 200 active, 429 standby, 503 sealed, 0 unreachable."""
        try:
            return requests.get(f"{self.addr}/v1/sys/health", timeout=2).status_code
        except requests.RequestException:
            return 0

    def leader_address(self) -> str:
        """The active node's API address as this node knows it ("" while it knows none)."""
        try:
            answer = requests.get(f"{self.addr}/v1/sys/leader", timeout=2).json()
        except (requests.RequestException, ValueError):
            return ""
        return str(answer.get("leader_address") or "")

    def unseal(self, key: str) -> None:
        hvac.Client(url=self.addr).sys.submit_unseal_key(key)

    def __repr__(self) -> str:
        return f"<{self.node_id} {self.addr}>"


@dataclasses.dataclass
class StoppedNode:
    """What stopping a node left: the plugin processes that ran under it, and those of
    them still alive after the bounded wait (killed by the harness, reported here)."""

    node: ClusterNode
    plugin_pids: list[int]
    leftover_plugins: list[int]


class Cluster:
    """Three Raft voters: node1 initialised with one key share, node2 and node3 joined to it.

    Every node has the plugin in its plugin directory (Vault runs the file only from its own
    node's directory); registering once suffices because the catalog lives in Raft.
    """

    def __init__(self, workdir: Path, size: int = 3, binary: Path | None = None) -> None:
        self.workdir = workdir
        self.nodes = [
            ClusterNode(workdir / f"node{i}", f"node{i}", binary) for i in range(1, size + 1)
        ]
        self.unseal_key = ""
        self.token = ""
        self.leftover_plugins: list[int] = []
        self._plugin_pids_seen: set[int] = set()

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> Cluster:
        first, *others = self.nodes
        for node in self.nodes:
            node.install_plugin()
        first.launch()
        answer = hvac.Client(url=first.addr).sys.initialize(secret_shares=1, secret_threshold=1)
        self.unseal_key = answer["keys"][0]
        self.token = answer["root_token"]
        for node in self.nodes:
            node.unseal_key = self.unseal_key
            node.token = self.token
        first.unseal(self.unseal_key)
        wait_until(lambda: first.health() == 200, 60, "node1 to become active")
        # Autopilot keeps a new server a non-voter for 10 s by default; a cluster whose third
        # node cannot vote yet would lose quorum with its leader, so promote them sooner.
        first.cli("operator", "raft", "autopilot", "set-config", "-server-stabilization-time=2s")
        for node in others:
            node.launch()
            joined = hvac.Client(url=node.addr).sys.join_raft_cluster(leader_api_addr=first.addr)
            if not joined.get("joined"):
                raise RuntimeError(f"{node.node_id} did not join: {joined}")
            node.unseal(self.unseal_key)
            self.wait_standby(node)
        self.wait_voters(len(self.nodes))
        return self

    def wait_standby(self, node: ClusterNode, timeout: float = 60) -> None:
        """Unsealed, standing by, and knowing the active node (so it can forward)."""
        wait_until(
            lambda: node.health() == 429 and node.leader_address() != "",
            timeout,
            f"{node.node_id} to stand by\n{node.log_tail()}",
        )

    def wait_voters(self, count: int, timeout: float = 60) -> None:
        """Raft's own view: ``count`` voters, all of them known to the leader."""

        def enough() -> bool:
            try:
                config = self.active().client().sys.read_raft_config()
            except (RuntimeError, hvac.exceptions.VaultError, requests.RequestException):
                return False
            voters = [s for s in config["data"]["config"]["servers"] if s["voter"]]
            return len(voters) >= count

        wait_until(enough, timeout, f"{count} raft voters")

    def close(self) -> None:
        """Stop every node, then make sure no plugin process outlives the cluster."""
        for node in self.nodes:
            with contextlib.suppress(Exception):
                self._plugin_pids_seen.update(node.plugin_pids())
            node.stop()
        self.leftover_plugins += reap(sorted(self._plugin_pids_seen), timeout=10)

    def __enter__(self) -> Cluster:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- roles in the cluster --------------------------------------------------------

    def active(self) -> ClusterNode:
        """The node that answers ``sys/health`` with 200 (raises when there is none)."""
        for node in self.nodes:
            if node.running and node.health() == 200:
                return node
        raise RuntimeError("no active node")

    def standbys(self) -> list[ClusterNode]:
        return [node for node in self.nodes if node.running and node.health() == 429]

    def wait_active(
        self, *, other_than: ClusterNode | None = None, timeout: float = 60
    ) -> ClusterNode:
        """The active node once there is one (not ``other_than``) that every running
        standby knows as the leader, so requests through any node reach it."""
        found: list[ClusterNode] = []

        def elected() -> bool:
            try:
                node = self.active()
            except RuntimeError:
                return False
            if node is other_than:
                return False
            standbys = [n for n in self.nodes if n.running and n is not node]
            if not all(n.leader_address() == node.addr for n in standbys):
                return False
            found[:] = [node]
            return True

        wait_until(elected, timeout, "a new active node", step=0.25)
        return found[0]

    def plugin_pids(self) -> dict[str, list[int]]:
        """Plugin processes per node, remembered so that `close` can reap them."""
        pids = {node.node_id: node.plugin_pids() for node in self.nodes}
        for found in pids.values():
            self._plugin_pids_seen.update(found)
        return pids

    # --- faults ------------------------------------------------------------------------

    def stop_node(self, node: ClusterNode, sig: int = signal.SIGTERM) -> StoppedNode:
        """Stop one node with ``sig``; its plugin processes must then exit by themselves
        (they watch their parent): those still alive after 10 s are killed and reported."""
        pids = node.plugin_pids()
        self._plugin_pids_seen.update(pids)
        node.stop(sig)
        leftover = reap(pids, timeout=10)
        self.leftover_plugins += leftover
        return StoppedNode(node, pids, leftover)

    def restart_node(self, node: ClusterNode) -> None:
        """Bring a stopped node back on its own ports and data; it rejoins as a standby."""
        if node.running:
            node.stop()
        node.launch()
        node.unseal(self.unseal_key)
        self.wait_standby(node)

    def step_down(self) -> ClusterNode:
        """Ask the active node to step down; return the node that took over."""
        old = self.active()
        old.client().sys.step_down()
        return self.wait_active(other_than=old)

    # --- the plugin ----------------------------------------------------------------

    def register(self, name: str = PLUGIN_NAME) -> str:
        """Register the plugin by sha256 once; the catalog replicates through Raft. The
        binary was copied into every node's plugin directory at start."""
        sha = sha256_of(PLUGIN_BIN)
        for node in self.nodes:
            if sha256_of(node.plugin_dir / name) != sha:
                node.install_plugin(name)
        self.active().cli("plugin", "register", f"-sha256={sha}", "secret", name)
        return sha

    def logs(self, lines: int = 30) -> str:
        """The tail of every node's debug log, for failure messages."""
        return "\n".join(
            f"--- {node.node_id} ({node.log_path}) ---\n{node.log_tail(lines)}"
            for node in self.nodes
        )


def reap(pids: list[int], timeout: float) -> list[int]:
    """Wait up to ``timeout`` for ``pids`` to exit; SIGKILL and return the ones that did not."""
    deadline = time.monotonic() + timeout
    while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    leftover = [p for p in pids if pid_alive(p)]
    for pid in leftover:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return leftover


def configure_mount(
    node: VaultServer, mount: str, endpoint: str, secret_id: str, secret_key: str
) -> None:
    node.cli(
        "write",
        f"{mount}/config",
        f"secret_id={secret_id}",
        f"secret_key={secret_key}",
        f"cam_endpoint={endpoint}",
        f"sts_endpoint={endpoint}",
    )


# --- soak -----------------------------------------------------------------------------


@dataclasses.dataclass
class SoakResult:
    """One client request: what, through which node, when (seconds into the soak), outcome."""

    op: str
    node: str
    started: float
    ended: float
    error: str = ""


class Soak:
    """Clients that issue, renew and revoke mixed CAM and STS leases for a fixed time, with
    one leader failover in the middle. Every lease a client got is tracked, so the end can
    say which users in the account no lease accounts for; the plugin processes' resident
    memory is sampled throughout, so a leak shows as a slope, not as one number."""

    def __init__(
        self,
        cluster: Cluster,
        mount: str,
        *,
        clients: int,
        seconds: float,
        failover_at: float,
        failover_signal: int,
    ) -> None:
        self.cluster = cluster
        self.mount = mount
        self.clients = clients
        self.seconds = seconds
        self.failover_at = failover_at
        self.failover_signal = failover_signal
        self.results: list[SoakResult] = []
        self.issued_users: set[str] = set()
        # (start, new leader known everywhere) and (start, stopped node back as a standby).
        self.election: tuple[float, float] = (-1.0, -1.0)
        self.rejoin: tuple[float, float] = (-1.0, -1.0)
        self.failover: dict[str, Any] = {}
        self.rss: dict[int, list[tuple[float, float]]] = {}
        self._lock = threading.Lock()
        self._t0 = 0.0
        self.wall_start = 0.0

    def _now(self) -> float:
        return time.monotonic() - self._t0

    def _client_loop(self, index: int, stop: threading.Event) -> None:
        rng = random.Random(index)  # noqa: S311 - a reproducible load mix, not a secret
        mine: list[str] = []
        while not stop.is_set():
            running = [n for n in self.cluster.nodes if n.running]
            node = rng.choice(running) if running else self.cluster.nodes[0]
            client = hvac.Client(url=node.addr, token=self.cluster.token, timeout=30)
            roll = rng.random()
            renewable = [lease for lease in mine if f"{self.mount}/creds/cam/" in lease]
            if renewable and roll < 0.25:
                op, lease = "renew", rng.choice(renewable)
            elif mine and roll < 0.5:
                op, lease = "revoke", rng.choice(mine)
            else:
                op, lease = ("issue_cam" if rng.random() < 0.5 else "issue_sts"), ""
            started = self._now()
            error = ""
            try:
                if op == "renew":
                    client.sys.renew_lease(lease, increment=600)
                elif op == "revoke":
                    client.sys.revoke_lease(lease)
                    mine.remove(lease)
                else:
                    role = "cam" if op == "issue_cam" else "sts"
                    answer = client.read(f"{self.mount}/creds/{role}")
                    mine.append(answer["lease_id"])
                    user = str(answer["data"].get("username", ""))
                    if user:
                        with self._lock:
                            self.issued_users.add(user)
            except Exception as exc:
                error = _error_line(exc)
            with self._lock:
                self.results.append(SoakResult(op, node.node_id, started, self._now(), error))
            if error:
                # As a real client would: a refused connection must not become a hot loop that
                # turns one second of election into hundreds of "failures".
                stop.wait(0.5)

    def _sample_rss(self, stop: threading.Event) -> None:
        while True:
            now = self._now()
            for pids in self.cluster.plugin_pids().values():
                for pid in pids:
                    mb = rss_mb(pid)
                    if mb is not None:
                        self.rss.setdefault(pid, []).append((now, mb))
            if stop.wait(2.0):
                return

    def _fail_over(self, stop: threading.Event) -> None:
        if stop.wait(self.failover_at):
            return
        old = self.cluster.active()
        pids = old.plugin_pids()
        began = self._now()
        old.stop(self.failover_signal)
        new = self.cluster.wait_active(other_than=old)
        self.election = (began, self._now())
        # The old leader's plugin processes had the election's time to notice; a bounded
        # wait more, then the harness kills and reports them.
        left = reap(pids, timeout=max(0.0, 10 - (self._now() - began)))
        self.cluster.leftover_plugins += left
        self.cluster.restart_node(old)
        self.rejoin = (began, self._now())
        self.failover = {
            "signal": signal.Signals(self.failover_signal).name,
            "at_s": round(began, 1),
            "stopped": old.node_id,
            "new_active": new.node_id,
            "election_s": round(self.election[1] - began, 2),
            "back_as_standby_s": round(self.rejoin[1] - began, 2),
            "old_plugin_processes_alive_10s_after": left,
        }

    def run(self) -> None:
        stop = threading.Event()
        self._t0 = time.monotonic()
        self.wall_start = time.time()
        threads = [
            threading.Thread(target=self._client_loop, args=(i, stop), daemon=True)
            for i in range(self.clients)
        ]
        threads.append(threading.Thread(target=self._fail_over, args=(stop,), daemon=True))
        threads.append(threading.Thread(target=self._sample_rss, args=(stop,), daemon=True))
        for thread in threads:
            thread.start()
        time.sleep(self.seconds)
        stop.set()
        for thread in threads:
            thread.join(120)

    def report(self) -> dict[str, Any]:
        def overlaps(r: SoakResult, window: tuple[float, float]) -> bool:
            return window[0] >= 0 and r.started <= window[1] and r.ended >= window[0]

        failed = [r for r in self.results if r.error]
        # Requests that overlapped the election may see Vault's own errors (no leader, a
        # forward to the stopped node): counted apart, never hidden. Then those that overlapped
        # the stopped node's return; then the rest, which should be none.
        election = [r for r in failed if overlaps(r, self.election)]
        rejoin = [r for r in failed if r not in election and overlaps(r, self.rejoin)]
        outside = [r for r in failed if r not in election and r not in rejoin]
        by_op: dict[str, dict[str, int]] = {}
        for r in self.results:
            row = by_op.setdefault(r.op, {"requests": 0, "failures": 0})
            row["requests"] += 1
            row["failures"] += bool(r.error)

        def errors(rows: list[SoakResult]) -> dict[str, int]:
            counted = collections.Counter(r.error for r in rows)
            return dict(counted.most_common(8))

        return {
            "requests": len(self.results),
            "by_operation": by_op,
            "failures_during_election": len(election),
            "failures_while_the_old_leader_rejoined": len(rejoin),
            "failures_outside_the_failover": len(outside),
            "errors_during_the_failover": errors(election + rejoin),
            "errors_outside_the_failover": errors(outside),
            "failover": self.failover,
            "users_issued": len(self.issued_users),
            "plugin_rss_mib": {
                str(pid): {
                    "first": round(samples[0][1], 1),
                    "last": round(samples[-1][1], 1),
                    "max": round(max(mb for _, mb in samples), 1),
                    "seen_s": [round(samples[0][0], 1), round(samples[-1][0], 1)],
                    "samples": [[round(t, 1), round(mb, 1)] for t, mb in samples],
                }
                for pid, samples in self.rss.items()
            },
        }


def _error_line(exc: Exception) -> str:
    """The error's class and first line: Vault's messages name the cause there, and the rest
    (request URLs, request ids) would make every error distinct in the report."""
    lines = [line.strip(" *\t") for line in str(exc).strip().splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if first.endswith("error occurred:") and len(lines) > 1:
        first = lines[1]
    first = re.sub(r"\(RequestId [^)]*\)|[0-9a-f-]{36}|port=\d+|:\d{4,5}", "", first)
    return f"{type(exc).__name__}: {first[:140]}"


def _account_users(emulator: Any) -> list[str]:
    return sorted(u["Name"] for u in emulator.state["accounts"][0]["Users"])


def soak_main(args: argparse.Namespace) -> int:
    """Run the soak and write ``soak.json`` and ``soak.md`` to ``--out``; exit 1 when a
    request failed outside the failover or a user is left that no lease accounts for."""
    from tencentcloud_emulator.testing import running_emulator

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    faults = {"latency": {"fixed_ms": args.latency_ms}, "throttle": {"enabled": True}}
    # The request log keeps 10,000 entries by default; the soak makes more than that.
    mount = "tencentcloud"
    with (
        running_emulator(faults=faults, log_limit=1_000_000) as emulator,
        tempfile.TemporaryDirectory(prefix="soak-") as tmp,
        Cluster(Path(tmp)) as cluster,
    ):
        cluster.register()
        active = cluster.active()
        # WAL entries are replayed once older than this: long enough that no issue still in
        # flight under throttling is touched, short enough to clean up within the drain.
        active.cli(
            "secrets", "enable", f"-path={mount}", "-options=rollback_min_age=30s", PLUGIN_NAME
        )
        configure_mount(active, mount, emulator.endpoint, emulator.secret_id, emulator.secret_key)
        if args.max_retries is not None:
            active.cli("write", f"{mount}/config", f"max_retries={args.max_retries}")
        active.cli("write", f"{mount}/role/cam", "remote_policies=policy_id:3", "ttl=30m")
        active.cli("write", f"{mount}/role/sts", f"role_arn={ARN}")
        soak = Soak(
            cluster,
            mount,
            clients=args.clients,
            seconds=args.seconds,
            failover_at=args.seconds / 2,
            failover_signal=signal.Signals[f"SIG{args.signal}"],
        )
        soak.run()
        report: dict[str, Any] = {
            "date": time.strftime("%Y-%m-%d"),
            "machine": f"{os.cpu_count()} cores",
            "clients": args.clients,
            "seconds": args.seconds,
            "emulator_latency_ms": args.latency_ms,
            "throttling": "on (emulator defaults: CAM 20/s per action)",
            "max_retries": "engine default" if args.max_retries is None else args.max_retries,
            **soak.report(),
        }
        # Drain: revoke every lease still live, then wait (bounded) until the account holds
        # no user; what is left after that is an orphan. The rollback runs once a minute.
        drained = time.monotonic()
        node = cluster.wait_active()
        node.cli("lease", "revoke", "-prefix", f"{mount}/creds", check=False)
        with contextlib.suppress(TimeoutError):
            wait_until(lambda: not _account_users(emulator), args.drain_seconds, "drain", 1)
        report["drain_s"] = round(time.monotonic() - drained, 1)
        report["orphans"] = _account_users(emulator)
        report["orphans_handed_to_a_client"] = [
            name for name in report["orphans"] if name in soak.issued_users
        ]
        listed = node.cli(
            "list", "-format=json", f"sys/leases/lookup/{mount}/creds/cam", check=False
        )
        # An empty list is a 404 ("{}" on stdout); any other failure is reported as it is.
        report["cam_leases_left"] = (
            len(listed.json())
            if listed.returncode == 0
            else 0
            if "No value found" in listed.output or listed.stdout.strip() == "{}"
            else listed.output.strip()[:200]
        )
        # A throttled DeleteUser did nothing; a user deleted twice shows as a Success and a
        # UserNotExist (or two Successes, which the emulator cannot give).
        deletes = collections.Counter(
            str(e["params"].get("Name", ""))
            for e in emulator.requests("DeleteUser")
            if e["code"] != "RequestLimitExceeded"
        )
        report["users_deleted_more_than_once"] = sorted(n for n, c in deletes.items() if c > 1)
        # What the account saw of each of those users, for the failure's story: seconds
        # since the soak began, action, answer code.
        report["calls_about_suspects"] = {
            name: [
                [round(e["time"] - soak.wall_start, 2), e["action"], e["code"]]
                for e in emulator.requests()
                if name in (e["params"].get("Name"), e["params"].get("UserName"))
            ]
            for name in [*report["orphans"], *report["users_deleted_more_than_once"]][:10]
        }
        counters = emulator.counters()
        report["emulator_calls"] = {
            action: counters.get(action, {})
            for action in ("AddUser", "AddUserToGroup", "DeleteUser", "AssumeRole")
        }
    report["plugin_processes_left_after_close"] = cluster.leftover_plugins
    (out / "soak.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "soak.md").write_text(_soak_markdown(report))
    print(_soak_markdown(report))
    return 0 if not report["orphans"] and not report["failures_outside_the_failover"] else 1


def _soak_markdown(report: dict[str, Any]) -> str:
    rows = "\n".join(
        f"| {op} | {row['requests']} | {row['failures']} |"
        for op, row in sorted(report["by_operation"].items())
    )
    rss = "\n".join(
        f"| {pid} | {v['seen_s'][0]} to {v['seen_s'][1]} | {v['first']} | {v['last']} "
        f"| {v['max']} |"
        for pid, v in report["plugin_rss_mib"].items()
    )
    failover = report["failover"]
    return (
        f"Soak of {report['date']} ({report['machine']}): {report['clients']} clients for "
        f"{report['seconds']:.0f} s, emulator latency {report['emulator_latency_ms']} ms, "
        f"throttling {report['throttling']}, max_retries {report['max_retries']}; leader "
        f"{failover.get('stopped')} stopped with "
        f"{failover.get('signal')} at {failover.get('at_s')} s.\n\n"
        "| operation | requests | failures |\n|---|---|---|\n"
        f"{rows}\n\n"
        f"- requests: {report['requests']}; users issued: {report['users_issued']}\n"
        f"- new leader {failover.get('new_active')} known to every node after "
        f"{failover.get('election_s')} s; old leader back as a standby after "
        f"{failover.get('back_as_standby_s')} s\n"
        f"- failures during the election: {report['failures_during_election']}; while the old "
        f"leader rejoined: {report['failures_while_the_old_leader_rejoined']}; outside the "
        f"failover: {report['failures_outside_the_failover']}\n"
        f"- errors during the failover: {json.dumps(report['errors_during_the_failover'])}\n"
        f"- errors outside the failover: {json.dumps(report['errors_outside_the_failover'])}\n"
        f"- drain (revoke the rest, wait for the rollback): {report['drain_s']} s; orphans: "
        f"{len(report['orphans'])}; CAM leases left: {report['cam_leases_left']}; users "
        f"deleted more than once: {len(report['users_deleted_more_than_once'])}\n"
        f"- emulator calls: {json.dumps(report['emulator_calls'])}\n"
        f"- plugin processes of the stopped leader still alive 10 s later: "
        f"{len(failover.get('old_plugin_processes_alive_10s_after', []))}; plugin processes "
        f"the harness had to kill in all: {len(report['plugin_processes_left_after_close'])}\n\n"
        "| plugin pid | seen (s) | RSS first (MiB) | last | max |\n|---|---|---|---|---|\n"
        f"{rss}\n"
    )


def up_main(args: argparse.Namespace) -> int:
    """Start a cluster, register and mount the plugin, print the addresses, wait for ^C."""
    with tempfile.TemporaryDirectory(prefix="cluster-") as tmp, Cluster(Path(tmp)) as cluster:
        cluster.register()
        cluster.active().cli("secrets", "enable", "-path=tencentcloud", PLUGIN_NAME)
        for node in cluster.nodes:
            print(f"{node.node_id}: {node.addr} (log {node.log_path})")
        print(f"active: {cluster.active().node_id}; root token in VAULT_TOKEN of each node's cli")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vault", type=Path, help="the Vault binary (default: make print-vault)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start a cluster and keep it running")
    soak = commands.add_parser("soak", help="the bounded soak with one failover")
    soak.add_argument("--clients", type=int, default=32)
    soak.add_argument("--seconds", type=float, default=60)
    soak.add_argument("--latency-ms", type=int, default=50)
    soak.add_argument("--drain-seconds", type=float, default=180)
    soak.add_argument("--signal", choices=["TERM", "KILL"], default="KILL")
    soak.add_argument(
        "--max-retries", type=int, help="the mount's max_retries (default: the engine's own)"
    )
    soak.add_argument("--out", default="build/soak")
    args = parser.parse_args(argv)
    if args.vault:
        os.environ["VAULT_BIN"] = str(args.vault)
    if args.command == "soak":
        return soak_main(args)
    return up_main(args)


if __name__ == "__main__":
    raise SystemExit(main())
