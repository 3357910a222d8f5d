"""The main demo: a Vault dev server with the plugin mounted on the embedded emulator.

Starts the CAM/STS emulator in this process, a Vault dev server, registers the plugin by
sha256, mounts it at tencentcloud/, points it at the emulator, and walks through a round
trip. Then it keeps everything running for you to use until Ctrl-C (``--once`` exits).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tencentcloud_emulator.testing import running_emulator
from tools.vaultserver import PLUGIN_BIN, PLUGIN_NAME, VaultServer

PREFERRED_VAULT_PORT = 8200


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _step(vault: VaultServer, *args: str) -> str:
    shown = [a.split("=", 1)[0] + "=****" if a.startswith("secret_key=") else a for a in args]
    print(f"\n$ vault {' '.join(shown)}", flush=True)
    out = vault.cli(*args).output.rstrip()
    if out:
        print(out, flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vault", type=Path, help="Vault binary (default: make print-vault)")
    parser.add_argument("--plugin", type=Path, default=PLUGIN_BIN)
    parser.add_argument("--once", action="store_true", help="exit after the walk-through")
    args = parser.parse_args()
    if args.vault:
        os.environ["VAULT_BIN"] = str(args.vault)

    with running_emulator() as emulator, tempfile.TemporaryDirectory() as tmp:
        vault = VaultServer(Path(tmp))
        if _port_free(PREFERRED_VAULT_PORT):
            vault.port = PREFERRED_VAULT_PORT
            vault.addr = f"http://127.0.0.1:{vault.port}"
        vault.start()
        try:
            print(f"Tencent Cloud emulator: {emulator.endpoint} (owner uin {emulator.owner_uin})")
            print(f"Vault dev server:       {vault.addr} (root token: root)")
            sha = vault.install_plugin(source=args.plugin)
            _step(vault, "plugin", "register", f"-sha256={sha}", "secret", PLUGIN_NAME)
            _step(vault, "secrets", "enable", "-path=tencentcloud", PLUGIN_NAME)
            _step(
                vault,
                "write",
                "tencentcloud/config",
                f"secret_id={emulator.secret_id}",
                f"secret_key={emulator.secret_key}",
                "region=ap-guangzhou",
                f"cam_endpoint={emulator.endpoint}",
                f"sts_endpoint={emulator.endpoint}",
            )
            _step(vault, "read", "tencentcloud/config")
            _step(
                vault,
                "write",
                "tencentcloud/role/reader",
                "remote_policies=policy_name:QcloudCOSReadOnlyAccess,scope:All",
                "ttl=1h",
                "max_ttl=24h",
            )
            _step(vault, "read", "tencentcloud/role/reader")
            _step(vault, "list", "tencentcloud/role")
            print("\nThe plugin answers from one process:", vault.plugin_pids())
            if args.once:
                return 0
            print(
                "\nReady. In another shell:\n"
                f"  export VAULT_ADDR={vault.addr} VAULT_TOKEN=root\n"
                "  vault path-help tencentcloud/\n"
                f"Emulator state: curl {emulator.endpoint}/_emulator/state\n"
                "Ctrl-C stops Vault and the emulator."
            )
            stop = threading.Event()
            signal.signal(signal.SIGINT, lambda *_: stop.set())
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            stop.wait()
        finally:
            vault.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
