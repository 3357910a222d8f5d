"""The admin plane under /_emulator/, the seed loader, and the command line."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from tencentcloud_emulator.testing import RunningEmulator
from tests.support.emulator_cli import emulator_process

SEED = {
    "accounts": [
        {
            "owner_uin": 200000000001,
            "app_id": 1,
            "root_keys": [{"secret_id": "AKID" + "S" * 32, "secret_key": "K" * 32}],
            "users": [
                {
                    "name": "seeded",
                    "keys": [{"secret_id": "AKID" + "T" * 32, "secret_key": "L" * 32}],
                }
            ],
            "policies": [
                {
                    "name": "seeded-policy",
                    "document": {
                        "version": "2.0",
                        "statement": [{"effect": "allow", "action": "cos:*", "resource": "*"}],
                    },
                }
            ],
            "groups": [{"name": "seeded-group", "members": ["seeded"]}],
        }
    ]
}


def admin(emulator: RunningEmulator, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """An admin request as a script sends one: JSON, or YAML when the body is bytes."""
    data = (
        None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )
    kind = "application/yaml" if isinstance(body, bytes) else "application/json"
    request = urllib.request.Request(
        f"{emulator.endpoint}/_emulator/{path}",
        data=data,
        method=method,
        headers={} if body is None else {"Content-Type": kind},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_admin_endpoints(emulator: RunningEmulator, raw: Any) -> None:
    assert admin(emulator, "GET", "health") == (200, {"ok": True})
    raw.send("AddUser", {"Name": "admin-made", "UseApi": 1})

    status, state = admin(emulator, "GET", "state")
    assert status == 200
    users = state["accounts"][0]["Users"]
    assert [u["Name"] for u in users] == ["admin-made"]
    assert all(
        "Secret" not in k or k == "AccessKeyId"
        for key in state["accounts"][0]["AccessKeys"]
        for k in key
    )

    status, log = admin(emulator, "GET", "requests?action=AddUser")
    assert status == 200
    assert [e["action"] for e in log] == ["AddUser"]
    assert log[0]["code"] == "Success"
    assert admin(emulator, "GET", "counters")[1]["AddUser"] == {"calls": 1, "Success": 1}

    status, faults = admin(
        emulator, "PUT", "faults", {"faults": [{"action": "ListUsers", "code": "InternalError"}]}
    )
    assert status == 200
    assert faults["faults"][0]["action"] == "ListUsers"
    assert raw.code("ListUsers") == "InternalError"
    assert admin(emulator, "GET", "faults")[1]["faults"][0]["fired"] == 1
    assert admin(emulator, "PUT", "faults", {"nonsense": 1})[0] == 400

    assert admin(emulator, "PUT", "quotas", {"sub_users": 1})[1]["sub_users"] == 1
    assert raw.code("AddUser", {"Name": "second", "UseApi": 0}) == "InvalidParameter.SubUserFull"
    assert admin(emulator, "POST", "clock", {"advance": 10})[1] == {"clock_offset": 10.0}

    assert admin(emulator, "POST", "reset", {})[0] == 200
    assert admin(emulator, "GET", "state")[1]["accounts"][0]["Users"] == []
    assert admin(emulator, "GET", "requests")[1] == []
    assert raw.code("ListUsers") == "Success"
    assert admin(emulator, "DELETE", "requests")[0] == 200
    assert admin(emulator, "GET", "nothing")[0] == 404


def test_seed_endpoint_replaces_the_world(emulator: RunningEmulator, raw: Any) -> None:
    status, _ = admin(emulator, "POST", "seed", yaml.safe_dump(SEED).encode())
    assert status == 200
    account = emulator.state["accounts"][0]
    assert account["OwnerUin"] == 200000000001
    assert [u["Name"] for u in account["Users"]] == ["seeded"]
    assert [g["GroupName"] for g in account["Groups"]] == ["seeded-group"]
    assert emulator.secret_id == "AKID" + "S" * 32
    answer = raw.send(
        "GetCallerIdentity", service="sts", secret_id="AKID" + "T" * 32, secret_key="L" * 32
    )
    assert answer["AccountId"] == "200000000001"
    assert admin(emulator, "POST", "seed", b"- not a mapping")[0] == 400


def test_bad_seed_is_refused(emulator_factory: Any) -> None:
    with pytest.raises(ValueError, match="seed"):
        emulator_factory({"accounts": [{"app_id": 1}]})


def test_command_line(tmp_path: Path) -> None:
    seed_file = tmp_path / "seed.yaml"
    seed_file.write_text(yaml.safe_dump(SEED))
    faults_file = tmp_path / "faults.yaml"
    faults_file.write_text(
        yaml.safe_dump({"faults": [{"action": "GetUser", "code": "InternalError"}]})
    )
    with emulator_process(
        "--seed",
        str(seed_file),
        "--faults",
        str(faults_file),
        "--quota",
        "sub_users=5",
        "--latency-ms",
        "1",
        "--no-throttle",
    ) as running:
        first = running.listening_line
        assert first.startswith("tencentcloud-emulator listening on http://127.0.0.1:")
        endpoint = running.endpoint
        second = running.next_line()
        assert "AKID" + "S" * 32 in second
        assert "K" * 32 not in second
        with urllib.request.urlopen(f"{endpoint}/_emulator/state", timeout=10) as response:
            state = json.loads(response.read())
        assert state["quotas"]["sub_users"] == 5
        with urllib.request.urlopen(f"{endpoint}/_emulator/faults", timeout=10) as response:
            faults = json.loads(response.read())
        assert faults["throttle"]["enabled"] is False
        assert faults["faults"][0]["action"] == "GetUser"
        assert faults["latency"]["fixed_ms"] == 1


def test_command_line_rejects_a_bad_seed(tmp_path: Path) -> None:
    seed_file = tmp_path / "seed.yaml"
    seed_file.write_text("accounts: [{app_id: 1}]")
    result = subprocess.run(
        [sys.executable, "-m", "tencentcloud_emulator", "--port", "0", "--seed", str(seed_file)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "seed" in result.stderr
