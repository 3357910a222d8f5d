"""Figures for the plugin in a real Vault: startup, request latency, memory.

Reports; never asserts. Numbers from a shared two-core machine are noisy: compare medians
of runs made back to back, not across days.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.vaultserver import PLUGIN_NAME, VaultServer, vault_like_certificate

COOKIE = "6669da05-b1c8-4f49-97d9-c8e5bed98e20"


def handshake_ms(plugin: Path, runs: int, *, cold: bool) -> list[float]:
    """Exec to the handshake line on stdout, as Vault's launcher waits for it."""
    shiv_root = tempfile.mkdtemp(prefix="bench-shiv-")
    env = {
        **os.environ,
        "VAULT_BACKEND_PLUGIN": COOKIE,
        "PLUGIN_PROTOCOL_VERSIONS": "5",
        "PLUGIN_CLIENT_CERT": vault_like_certificate()[0].decode(),
        "SHIV_ROOT": shiv_root,
    }
    times = []
    try:
        for _ in range(runs):
            if cold:
                shutil.rmtree(shiv_root, ignore_errors=True)
                os.makedirs(shiv_root)
            start = time.perf_counter()
            proc = subprocess.Popen([str(plugin)], stdout=subprocess.PIPE, env=env)
            assert proc.stdout is not None
            line = proc.stdout.readline()
            times.append((time.perf_counter() - start) * 1000)
            proc.terminate()
            proc.wait(10)
            if not line.startswith(b"1|5|unix|"):
                raise RuntimeError(f"unexpected handshake: {line!r}")
    finally:
        shutil.rmtree(shiv_root, ignore_errors=True)
    return times


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50": pick(0.50), "p90": pick(0.90), "p99": pick(0.99), "n": len(ordered)}


def request_latency(vault: VaultServer, paths: list[str], count: int) -> list[list[float]]:
    """GET each path ``count`` times, interleaved, so that machine noise hits all alike."""
    session = requests.Session()
    session.headers["X-Vault-Token"] = vault.token
    urls = [f"{vault.addr}/v1/{path}" for path in paths]
    for _ in range(50):  # warm the connections and the plugins
        for url in urls:
            session.get(url).raise_for_status()
    samples: list[list[float]] = [[] for _ in urls]
    for _ in range(count):
        for url, bucket in zip(urls, samples, strict=True):
            start = time.perf_counter()
            session.get(url).raise_for_status()
            bucket.append((time.perf_counter() - start) * 1000)
    return samples


def mount_go_baseline(vault: VaultServer, plugin: Path) -> str:
    """The same storage-only read through a Go external plugin (KV version 1); its path."""
    sha = vault.install_plugin("go-baseline-kv", plugin)
    vault.cli("plugin", "register", f"-sha256={sha}", "secret", "go-baseline-kv")
    vault.cli("secrets", "enable", "-path=go-kv", "go-baseline-kv")
    vault.cli("write", "go-kv/bench", "credential_type=cam_user", "policies=A")
    return "go-kv/bench"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vault", type=Path)
    parser.add_argument("--plugin", type=Path, default=Path("bin") / PLUGIN_NAME)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument(
        "--go-plugin",
        type=Path,
        help="vault-plugin-secrets-kv built from Vault's module graph, as the Go baseline",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.vault:
        os.environ["VAULT_BIN"] = str(args.vault)

    report: dict[str, object] = {}
    cold = handshake_ms(args.plugin, 3, cold=True)
    warm = handshake_ms(args.plugin, 11, cold=False)
    report["handshake_ms"] = {
        "cold_median": round(statistics.median(cold), 1),
        "warm_median": round(statistics.median(warm), 1),
        "warm_min": round(min(warm), 1),
    }
    with tempfile.TemporaryDirectory() as tmp:
        vault = VaultServer(Path(tmp)).start()
        try:
            vault.register()
            vault.cli("secrets", "enable", "-path=tencentcloud", PLUGIN_NAME)
            pids = vault.plugin_pids()
            report["rss_after_mount_mb"] = round(rss_mb(pids[0]), 1)
            vault.cli(
                "write",
                "tencentcloud/role/bench",
                "role_arn=qcs::cam::uin/100000000001:roleName/bench",
            )
            paths = ["tencentcloud/role/bench", "sys/mounts/tencentcloud/tune"]
            if args.go_plugin:
                paths.append(mount_go_baseline(vault, args.go_plugin))
            samples = request_latency(vault, paths, args.requests)
            python_read = percentiles(samples[0])
            report["storage_read_ms"] = python_read
            # A path Vault answers itself, without any plugin: the floor under every request.
            report["vault_floor_ms"] = percentiles(samples[1])
            if args.go_plugin:
                go_read = percentiles(samples[2])
                report["go_plugin_read_ms"] = go_read
                report["python_over_go_p50"] = round(python_read["p50"] / go_read["p50"], 2)
            report["rss_after_requests_mb"] = round(rss_mb(pids[0]), 1)
        finally:
            vault.stop()
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:>24}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
