"""A three-node Vault Raft cluster on 127.0.0.1 for the tests, the soak and by hand.

Teams outgrow one Vault server; this is the smallest real cluster that shows what they get:
one active node that runs the lease manager, the rollback manager and the plugin; standbys
that forward; a new active node after the leader goes. Each node is a `VaultServer` (its own
ports, data dir, plugin directory with a copy of the plugin, debug log in its dir), so failure
messages can quote the node that misbehaved.

The harness never leaves a process behind: `close()` stops every node and then kills any
plugin process that outlived its Vault (and says so in `leftover_plugins`).

    python tools/cluster.py up          # start, register, mount at tencentcloud/, wait for ^C
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

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
    args = parser.parse_args(argv)
    if args.vault:
        os.environ["VAULT_BIN"] = str(args.vault)
    return up_main(args)


if __name__ == "__main__":
    raise SystemExit(main())
