"""``state_dir``: the whole world survives a restart (keys still sign, sessions still work, ids
do not repeat), the seed is ignored once a state exists, and the file is written atomically,
privately and on its own shortly after a change."""

from __future__ import annotations

import json
import signal
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from tencentcloud.cam.v20190116 import cam_client
from tencentcloud.cam.v20190116 import models as cam_models
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sts.v20180813 import models as sts_models
from tencentcloud.sts.v20180813 import sts_client

from tencentcloud_emulator import persistence
from tencentcloud_emulator.core import Emulator, Options
from tencentcloud_emulator.seed import default_seed
from tencentcloud_emulator.testing import RunningEmulator, running_emulator
from tests.support.emulator_cli import emulator_process
from tests.support.sdk import build
from tests.support.seed import DEMO_ROLE_ARN

CAM_READ_ONLY = 3


def _profile(emu: RunningEmulator) -> ClientProfile:
    return ClientProfile(httpProfile=HttpProfile(endpoint=emu.host_port, protocol="http"))


def cam(emu: RunningEmulator, secret_id: str, secret_key: str) -> Any:
    return cam_client.CamClient(credential.Credential(secret_id, secret_key), "", _profile(emu))


def sts(emu: RunningEmulator, *creds: str) -> Any:
    return sts_client.StsClient(credential.Credential(*creds), "ap-guangzhou", _profile(emu))


def test_users_keys_sessions_and_clock_survive_a_restart(tmp_path: Path) -> None:
    with running_emulator(state_dir=tmp_path) as emu:
        root = cam(emu, emu.secret_id, emu.secret_key)
        made = root.AddUser(build(cam_models.AddUserRequest, Name="kept", UseApi=1))
        root.AttachUserPolicy(
            build(cam_models.AttachUserPolicyRequest, PolicyId=CAM_READ_ONLY, AttachUin=made.Uin)
        )
        group = root.CreateGroup(build(cam_models.CreateGroupRequest, GroupName="kept-group"))
        root.AddUserToGroup(
            build(
                cam_models.AddUserToGroupRequest, Info=[{"GroupId": group.GroupId, "Uin": made.Uin}]
            )
        )
        issued = sts(emu, emu.secret_id, emu.secret_key).AssumeRole(
            build(sts_models.AssumeRoleRequest, RoleArn=DEMO_ROLE_ARN, RoleSessionName="kept")
        )
        emu.advance_clock(60)
        before = emu.state

    # A seed without the user: ignored, because a saved state exists.
    other_seed = {**default_seed(), "accounts": default_seed()["accounts"][:1]}
    with running_emulator(other_seed, state_dir=tmp_path) as emu:
        as_user = cam(emu, made.SecretId, made.SecretKey)
        listed = as_user.ListUsers(cam_models.ListUsersRequest())
        assert "kept" in [u.Name for u in listed.Data]
        creds = issued.Credentials
        me = sts(emu, creds.TmpSecretId, creds.TmpSecretKey, creds.Token).GetCallerIdentity(
            sts_models.GetCallerIdentityRequest()
        )
        assert me.Type == "CAMRole"
        assert emu.state == before
        # Id sequences carry on: a new user's uin follows, never repeats, the saved ones.
        again = cam(emu, emu.secret_id, emu.secret_key).AddUser(
            build(cam_models.AddUserRequest, Name="after-restart")
        )
        assert again.Uin == made.Uin + 1


def test_dump_and_restore_are_inverse(tmp_path: Path) -> None:
    with running_emulator(state_dir=tmp_path) as emu:
        root = cam(emu, emu.secret_id, emu.secret_key)
        root.AddUser(build(cam_models.AddUserRequest, Name="tagged", UseApi=1))
        root.CreateRole(
            build(
                cam_models.CreateRoleRequest,
                RoleName="tagged-role",
                PolicyDocument=json.dumps(
                    {
                        "version": "2.0",
                        "statement": [
                            {
                                "effect": "allow",
                                "action": "name/sts:AssumeRole",
                                "principal": {"qcs": ["qcs::cam::uin/100000000001:root"]},
                            }
                        ],
                    }
                ),
                Tags=[{"Key": "team", "Value": "vault"}],
            )
        )
        saved = emu.emulator.state_for_saving()
    restored = persistence.restore(json.loads(json.dumps(saved)))
    assert persistence.dump(restored) == saved
    assert saved["accounts"][0]["roles"][-1]["tags"] == [("team", "vault")]


def test_state_file_is_private_and_replaced_atomically(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    with running_emulator(state_dir=state_dir):
        path = state_dir / persistence.STATE_FILE
        assert path.exists()  # written at start, before any change
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    assert sorted(p.name for p in state_dir.iterdir()) == [persistence.STATE_FILE]
    assert "EmulatorDemoSecretKeyNotReal0000" in path.read_text()


def test_a_change_is_saved_without_waiting_for_shutdown(tmp_path: Path) -> None:
    path = tmp_path / persistence.STATE_FILE
    with running_emulator(state_dir=tmp_path) as emu:
        cam(emu, emu.secret_id, emu.secret_key).AddUser(
            build(cam_models.AddUserRequest, Name="debounced")
        )
        deadline = time.monotonic() + 10
        while "debounced" not in path.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "debounced" in path.read_text()


def test_a_damaged_state_refuses_to_start(tmp_path: Path) -> None:
    (tmp_path / persistence.STATE_FILE).write_text('{"format": 1, "env": {}}')
    with pytest.raises(persistence.StateError, match="damaged"):
        Emulator(None, Options(state_dir=tmp_path))
    (tmp_path / persistence.STATE_FILE).write_text("not json")
    with pytest.raises(persistence.StateError, match="not valid JSON"):
        Emulator(None, Options(state_dir=tmp_path))


def test_without_state_dir_nothing_is_written(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    emulator = Emulator()
    emulator.changed()
    emulator.close()
    assert list(tmp_path.iterdir()) == []


def test_command_line_saves_on_sigterm(tmp_path: Path) -> None:
    with emulator_process("--state-dir", str(tmp_path)) as running:
        profile = ClientProfile(
            httpProfile=HttpProfile(endpoint=running.host_port, protocol="http")
        )
        client = cam_client.CamClient(
            credential.Credential(
                "AKIDEmulatorDemoRootKey0000000000000", "EmulatorDemoSecretKeyNotReal0000"
            ),
            "",
            profile,
        )
        client.AddUser(build(cam_models.AddUserRequest, Name="cli-user"))
        assert running.stop(signal.SIGTERM) == 0
    saved = json.loads((tmp_path / persistence.STATE_FILE).read_text())
    assert "cli-user" in [u["name"] for u in saved["accounts"][0]["users"]]
