"""`make demo` walks a credential's whole life on the emulator; this runs it once, end to end,
and reads its output the way a new user would: was a credential issued, used, renewed,
revoked, and is the account clean afterwards? And no secret was printed on the way."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tencentcloud_emulator.testing import running_emulator
from tools.vaultserver import ROOT

DEMO = ROOT / "tools" / "demo.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DEMO), "--once", *args],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )


def _section(out: str, title: str) -> str:
    """The output from the heading with this title to the next heading."""
    start = out.index(f"=== {title}")
    end = out.find("\n=== ", start + 1)
    return out[start:] if end < 0 else out[start:end]


@pytest.fixture(scope="module")
def walkthrough(built: None) -> subprocess.CompletedProcess[str]:
    """One run of the demo, read by the tests below."""
    return _run()


def test_demo_walks_the_whole_lifecycle(walkthrough: subprocess.CompletedProcess[str]) -> None:
    result = walkthrough
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "Success! Enabled the vault-plugin-secrets-tencentcloud secrets engine" in out
    assert re.search(r"vault plugin register -sha256=[0-9a-f]{64} secret ", out)

    cam = _section(out, "A CAM sub-user credential")
    assert re.search(r"lease_id\s+tencentcloud/creds/app/\S+", cam)
    assert re.search(r"lease_renewable\s+true", cam)
    uin = re.search(r"^uin\s+(\d+)$", cam, re.M)
    assert uin, cam
    # Used: the emulator knows the key as that sub-user's, and the role's policy lets it list.
    assert f"GetCallerIdentity -> Arn=qcs::cam::uin/100000000001:uin/{uin.group(1)}" in cam
    assert "ListUsers -> UserCount=" in cam
    assert "AddUser -> error AuthFailure.UnauthorizedOperation" in cam
    assert "$ vault lease renew tencentcloud/creds/app/" in cam

    sts = _section(out, "An AssumeRole credential")
    assert re.search(r"lease_id\s+tencentcloud/creds/deployer/\S+", sts)
    assert re.search(r"lease_renewable\s+false", sts)
    assert "GetCallerIdentity -> Arn=qcs::sts:100000000001:assumed-role/" in sts
    assert "ListUsers -> UserCount=" in sts
    assert "AddUser -> error AuthFailure.UnauthorizedOperation" in sts

    revoked = _section(out, "Revoke both leases")
    assert revoked.count("All revocation operations queued successfully!") == 2
    assert "with the revoked key: GetCallerIdentity -> error AuthFailure." in revoked
    assert re.search(r"users:\s+\(none\)", revoked)

    clean = _section(out, "Delete the roles")
    for what in ("users", "sub-user keys", "groups", "custom policies"):
        assert re.search(rf"{what}:\s+\(none\)", clean), clean
    assert "DeleteUser 1" in clean
    assert "the walk-through is complete" in out


def test_demo_prints_no_secret(walkthrough: subprocess.CompletedProcess[str]) -> None:
    result = walkthrough
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    rows = re.findall(r"^(secret_key|token)\s+(\S+)$", out, re.M)
    assert {name for name, _ in rows} == {"secret_key", "token"}
    assert {value for _, value in rows} == {"****"}
    assert "secret_key=****" in out
    with running_emulator() as emulator:  # the same packaged seed: the demo's root key
        assert emulator.secret_key not in out


def test_demo_fails_loudly_when_a_step_fails(built: None, tmp_path: Path) -> None:
    not_a_plugin = tmp_path / "not-a-plugin"
    not_a_plugin.write_text("#!/bin/sh\nexit 1\n")
    not_a_plugin.chmod(0o755)
    result = _run("--plugin", str(not_a_plugin))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED: vault secrets enable failed" in result.stdout
