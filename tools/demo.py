"""The main demo: the whole life of a Tencent Cloud credential, on the embedded emulator.

Starts the CAM/STS emulator in this process and a Vault dev server, registers the plugin by
sha256 as an operator would, points it at the emulator, writes a cam_user role (the original
plugin's ``remote_policies`` and ``inline_policies``) and an assumed_role role, issues a
credential of each, uses both with the official SDK, renews and revokes the leases, and shows
from the emulator's admin plane that nothing the engine created is left. Every vault command
is printed with its answer; secret keys and tokens are masked.

Then it keeps Vault and the emulator running for you until Ctrl-C; ``--once`` exits after the
walk-through (the tests use it). The exit status is 1 when any step fails.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shlex
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tencentcloud_emulator.testing import RunningEmulator, running_emulator
from tools.tcsdk import Holder
from tools.vaultserver import PLUGIN_BIN, PLUGIN_NAME, CommandResult, VaultServer

PREFERRED_VAULT_PORT = 8200
PREFERRED_EMULATOR_PORT = 9400
MOUNT = "tencentcloud"
CAM_ROLE = "app"
STS_ROLE = "deployer"
DEMO_ROLE_ARN = "qcs::cam::uin/100000000001:roleName/vault-demo-role"
MASK = "****"
# Table rows and arguments whose value is a secret; shown as MASK whatever their value.
SECRET_FIELDS = ("secret_key", "token")
INLINE_POLICY = json.dumps(
    [
        {
            "version": "2.0",
            "statement": [{"effect": "allow", "action": ["cvm:Describe*"], "resource": "*"}],
        }
    ]
)
CAM_ROLE_ARGS = (
    # The original plugin's payload: existing policies by name and scope, and documents the
    # engine turns into custom policies. QcloudCamReadOnlyAccess is what lets the issued key
    # call ListUsers below.
    "remote_policies=policy_name:QcloudCamReadOnlyAccess,scope:All",
    "remote_policies=policy_name:QcloudCOSReadOnlyAccess,scope:All",
    f"inline_policies={INLINE_POLICY}",
    "ttl=1h",
    "max_ttl=24h",
)
STS_ROLE_ARGS = (f"role_arn={DEMO_ROLE_ARN}",)


class StepError(Exception):
    """A step of the walk-through did not do what it should; the demo exits 1."""


@dataclasses.dataclass(frozen=True)
class Issued:
    """One lease as the demo saw it; ``holder`` carries the secret for using it."""

    lease_id: str
    fields: dict[str, str]
    holder: Holder


class Walkthrough:
    """Runs vault commands, prints each with its answer, and never prints a secret."""

    def __init__(self, vault: VaultServer, emulator: RunningEmulator) -> None:
        self.vault = vault
        self.emulator = emulator
        self.secrets: set[str] = {emulator.secret_key}

    # --- output ---------------------------------------------------------------------------

    def mask(self, text: str) -> str:
        """Hide every value printed in a secret's row, and every secret seen so far."""
        lines = []
        for line in text.splitlines():
            match = re.match(r"^(\s*)(\S+)(\s+)(\S.*)$", line)
            if match and match.group(2) in SECRET_FIELDS:
                line = f"{match.group(1)}{match.group(2)}{match.group(3)}{MASK}"
            lines.append(line)
        masked = "\n".join(lines)
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret:
                masked = masked.replace(secret, MASK)
        return masked

    def say(self, text: str = "") -> None:
        print(self.mask(text), flush=True)

    def heading(self, text: str) -> None:
        self.say(f"\n=== {text} ===")

    def shown(self, args: tuple[str, ...]) -> str:
        out = []
        for arg in args:
            key, sep, _ = arg.partition("=")
            out.append(shlex.quote(f"{key}={MASK}" if sep and key in SECRET_FIELDS else arg))
        return " ".join(out)

    # --- steps ----------------------------------------------------------------------------

    def vault_cmd(self, *args: str, expect_ok: bool = True) -> CommandResult:
        self.say(f"\n$ vault {self.shown(args)}")
        result = self.vault.cli(*args, check=False)
        if result.output.strip():
            self.say(result.output.rstrip())
        if expect_ok and result.returncode != 0:
            raise StepError(f"vault {args[0]} {args[1] if len(args) > 1 else ''} failed")
        return result

    def issue(self, role: str) -> Issued:
        """Read creds/<role> as a user would (table output), learning the secrets before any
        of them is printed."""
        args = ("read", f"{MOUNT}/creds/{role}")
        self.say(f"\n$ vault {self.shown(args)}")
        result = self.vault.cli(*args, check=False)
        fields: dict[str, str] = {}
        for line in result.stdout.splitlines():
            parts = line.split(None, 1)
            if len(parts) == 2:
                fields[parts[0]] = parts[1].strip()
        self.secrets.update(fields[k] for k in SECRET_FIELDS if fields.get(k))
        self.say(result.output.rstrip())
        if result.returncode != 0 or not fields.get("lease_id") or not fields.get("secret_key"):
            raise StepError(f"no credential was issued for role {role}")
        holder = Holder(
            fields["secret_id"],
            fields["secret_key"],
            fields.get("token") or None,
            endpoint=self.emulator.endpoint,
        )
        public = {k: v for k, v in fields.items() if k not in SECRET_FIELDS}
        return Issued(fields["lease_id"], public, holder)

    def use(self, issued: Issued) -> None:
        """GetCallerIdentity, then a call the role allows (ListUsers: both demo roles hold
        CAM read-only access) and one it does not (AddUser), which CAM must refuse."""
        identity = issued.holder.caller_identity(wait=10)
        self.say(f"  sdk> {identity.summary('Arn', 'AccountId', 'UserId', 'Type')}")
        if not identity.ok:
            raise StepError("the issued credential was not accepted by the emulator")
        listed = issued.holder.list_users()
        self.say(f"  sdk> {listed.summary('UserCount')}")
        if not listed.ok:
            raise StepError("the credential could not make a call its role allows")
        added = issued.holder.add_user("demo-intruder")
        self.say(f"  sdk> {added.summary('Uin')}   (not granted by the role)")
        if added.ok:
            raise StepError("the credential made a call its role does not allow")

    def account(self) -> dict[str, Any]:
        """The demo account as the emulator's admin plane shows it (no secrets in it)."""
        answer = requests.get(f"{self.emulator.endpoint}/_emulator/state", timeout=10)
        answer.raise_for_status()
        state = answer.json()
        uin = self.emulator.owner_uin
        account: dict[str, Any] = next(a for a in state["accounts"] if a["OwnerUin"] == uin)
        return account

    def wait_until_no_users(self, *, timeout: float) -> float:
        """Seconds until the account has no sub-user, polling the admin plane."""
        start = time.monotonic()
        while self.account()["Users"]:
            if time.monotonic() - start > timeout:
                break
            time.sleep(0.1)
        return time.monotonic() - start

    def show_account(self, title: str) -> dict[str, Any]:
        account = self.account()
        self.say(f"\n$ curl -s {self.emulator.endpoint}/_emulator/state   # {title}")
        keys = [k for k in account["AccessKeys"] if k["Uin"] != account["OwnerUin"]]
        self.say(f"  users:           {_names(account['Users'], 'Name')}")
        self.say(f"  sub-user keys:   {_names(keys, 'AccessKeyId')}")
        self.say(f"  groups:          {_names(account['Groups'], 'GroupName')}")
        self.say(f"  custom policies: {_names(account['Policies'], 'PolicyName')}")
        return account


def _names(items: list[dict[str, Any]], key: str) -> str:
    return ", ".join(str(item[key]) for item in items) if items else "(none)"


def walkthrough(demo: Walkthrough, plugin: Path) -> None:
    vault, emulator = demo.vault, demo.emulator
    demo.heading("Register the plugin by sha256 and mount it")
    if not plugin.is_file():
        raise StepError(f"{plugin} does not exist: run `make dev`")
    sha = vault.install_plugin(source=plugin)
    demo.say(f"\n$ SHA256=$(sha256sum {vault.plugin_dir / PLUGIN_NAME} | cut -d' ' -f1)")
    demo.say(f"  {sha}")
    demo.vault_cmd("plugin", "register", f"-sha256={sha}", "secret", PLUGIN_NAME)
    demo.vault_cmd("secrets", "enable", f"-path={MOUNT}", PLUGIN_NAME)

    demo.heading("Point it at the emulator (its demo account's root key)")
    demo.vault_cmd(
        "write",
        f"{MOUNT}/config",
        f"secret_id={emulator.secret_id}",
        f"secret_key={emulator.secret_key}",
        f"cam_endpoint={emulator.endpoint}",
        f"sts_endpoint={emulator.endpoint}",
    )
    demo.vault_cmd("read", f"{MOUNT}/config")

    demo.heading("Two roles: CAM sub-users, and STS AssumeRole")
    demo.vault_cmd("write", f"{MOUNT}/role/{CAM_ROLE}", *CAM_ROLE_ARGS)
    demo.vault_cmd("read", f"{MOUNT}/role/{CAM_ROLE}")
    demo.vault_cmd("write", f"{MOUNT}/role/{STS_ROLE}", *STS_ROLE_ARGS)
    demo.vault_cmd("list", f"{MOUNT}/role")

    demo.heading("A CAM sub-user credential, used with the official SDK")
    cam = demo.issue(CAM_ROLE)
    demo.use(cam)
    if not demo.account()["Users"]:
        raise StepError("the emulator has no sub-user after a cam_user credential was issued")
    demo.vault_cmd("lease", "renew", cam.lease_id)

    demo.heading("An AssumeRole credential, used with the official SDK")
    sts = demo.issue(STS_ROLE)
    demo.use(sts)

    demo.heading("Revoke both leases")
    demo.vault_cmd("lease", "revoke", cam.lease_id)
    demo.vault_cmd("lease", "revoke", sts.lease_id)
    demo.say("  (STS credentials cannot be withdrawn early: the lease ends, the key expires)")
    # `vault lease revoke` queues the revocation; wait for the queue rather than race it.
    waited = demo.wait_until_no_users(timeout=30)
    demo.say(f"  (the sub-user was gone {waited:.1f} s after the command returned)")
    after = demo.show_account("after revocation: the role's group and policy remain")
    if after["Users"] or any(k["Uin"] != after["OwnerUin"] for k in after["AccessKeys"]):
        raise StepError("a sub-user or its key is left after revocation")
    gone = cam.holder.caller_identity()
    demo.say(f"  sdk> with the revoked key: {gone.summary('Arn')}")
    if gone.ok:
        raise StepError("the revoked key still works")

    demo.heading("Delete the roles: the engine's per-role objects go with them")
    demo.vault_cmd("delete", f"{MOUNT}/role/{CAM_ROLE}")
    demo.vault_cmd("delete", f"{MOUNT}/role/{STS_ROLE}")
    final = demo.show_account("after the roles are deleted")
    left = final["Users"] + final["Groups"] + final["Policies"]
    if left or any(k["Uin"] != final["OwnerUin"] for k in final["AccessKeys"]):
        raise StepError("the engine left objects in the account")
    counters = requests.get(f"{emulator.endpoint}/_emulator/counters", timeout=10).json()
    calls = ", ".join(f"{action} {c['calls']}" for action, c in sorted(counters.items()))
    demo.say(f"\nTencent Cloud API calls the emulator answered: {calls}")
    demo.say("The account holds nothing the engine created: the walk-through is complete.")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_for_ctrl_c(demo: Walkthrough) -> None:
    vault, emulator = demo.vault, demo.emulator
    # The walk-through deleted its roles; put them back for the user to explore.
    demo.heading("The roles again, for you to try")
    demo.vault_cmd("write", f"{MOUNT}/role/{CAM_ROLE}", *CAM_ROLE_ARGS)
    demo.vault_cmd("write", f"{MOUNT}/role/{STS_ROLE}", *STS_ROLE_ARGS)
    print(
        "\nReady. In another shell:\n"
        f"  export VAULT_ADDR={vault.addr} VAULT_TOKEN=root\n"
        f"  vault read {MOUNT}/creds/{CAM_ROLE}\n"
        f"  vault read {MOUNT}/creds/{STS_ROLE}\n"
        f"  vault path-help {MOUNT}/\n"
        f"  curl -s {emulator.endpoint}/_emulator/state      # the emulator's account\n"
        f"Point an SDK at the emulator: endpoint {emulator.host_port}, scheme http.\n"
        "Ctrl-C stops Vault and the emulator.",
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    print("\nStopping Vault and the emulator.", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vault", type=Path, help="Vault binary (default: make print-vault)")
    parser.add_argument("--plugin", type=Path, default=PLUGIN_BIN)
    parser.add_argument("--once", action="store_true", help="exit after the walk-through")
    args = parser.parse_args()
    if args.vault:
        os.environ["VAULT_BIN"] = str(args.vault)
    # Fixed ports are friendlier to explore with; a run that exits by itself takes free ones
    # so that it can run beside another.
    interactive = not args.once
    emu_port = PREFERRED_EMULATOR_PORT if interactive and _port_free(9400) else 0

    with (
        running_emulator(port=emu_port) as emulator,
        tempfile.TemporaryDirectory() as tmp,
    ):
        vault = VaultServer(Path(tmp))
        if interactive and _port_free(PREFERRED_VAULT_PORT):
            vault.port = PREFERRED_VAULT_PORT
            vault.addr = f"http://127.0.0.1:{vault.port}"
        demo = Walkthrough(vault, emulator)
        vault.start()
        try:
            print(f"Tencent Cloud emulator: {emulator.endpoint} (owner uin {emulator.owner_uin})")
            print(f"Vault dev server:       {vault.addr} (root token: root)", flush=True)
            try:
                walkthrough(demo, args.plugin)
            except StepError as exc:
                demo.say(f"\nFAILED: {exc}")
                return 1
            if interactive:
                _wait_for_ctrl_c(demo)
        except KeyboardInterrupt:
            print("\nInterrupted: stopping Vault and the emulator.", flush=True)
            return 130
        finally:
            vault.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
