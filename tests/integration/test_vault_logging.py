"""The plugin's log lines reach Vault's log at their own level, under the plugin's name."""

from __future__ import annotations

import json
import re

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.tencentcloud import models_cam as cm
from tests.support.cloud_client import client_as
from tests.support.mount_config import write_config
from tests.support.seed import DEMO_ROLE_ARN
from tools.vaultserver import PLUGIN_NAME, VaultServer


def _register_logging_debug(vault: VaultServer) -> None:
    """The plugin registered by sha256 with its log level at debug."""
    sha = vault.install_plugin()
    vault.cli(
        "plugin",
        "register",
        f"-sha256={sha}",
        "-env=TENCENTCLOUD_PLUGIN_LOG_LEVEL=debug",
        "secret",
        PLUGIN_NAME,
    )


def test_log_lines_at_their_level(fresh_vault: VaultServer) -> None:
    _register_logging_debug(fresh_vault)
    fresh_vault.cli("secrets", "enable", "-path=tencentcloud", PLUGIN_NAME)
    fresh_vault.cli(
        "write",
        "tencentcloud/config",
        "secret_id=AKIDexampleexample",
        "secret_key=very-secret-key-value",
        "region=ap-guangzhou",
    )
    fresh_vault.cli("read", "tencentcloud/config")
    log = fresh_vault.log_text()
    logger = rf"secrets\.{re.escape(PLUGIN_NAME)}\.[\w.-]+"
    assert re.search(rf"\[INFO\]  {logger}: configuration updated", log), log[-3000:]
    assert re.search(rf"\[DEBUG\] {logger}: handling request: .*operation=read", log)
    assert '"@message"' not in log  # every line was parsed as hclog JSON
    assert "very-secret-key-value" not in log
    assert "panic" not in log.lower()


def test_no_issued_or_rotated_secret_reaches_any_log(
    fresh_vault: VaultServer, emulator: RunningEmulator
) -> None:
    """Every secret of a session (the engine's key, a CAM lease's key, an STS key and token,
    a static role's key, each rotated) is absent from Vault's debug log and from the
    emulator's request log and state."""
    _register_logging_debug(fresh_vault)
    fresh_vault.cli("secrets", "enable", "-path=tc", PLUGIN_NAME)
    with client_as(emulator, emulator.secret_id, emulator.secret_key) as root:
        engine = root.cam.add_user(cm.AddUserRequest("engine", remark="x", use_api=True))
        root.cam.attach_user_policy(cm.AttachUserPolicyRequest(1, engine.uin))
        root.cam.add_user(cm.AddUserRequest("bot", remark="y"))
    assert engine.secret_key
    seen = [engine.secret_key]
    write_config(
        fresh_vault, "tc", emulator, secret_id=engine.secret_id, secret_key=engine.secret_key
    )
    fresh_vault.cli("write", "tc/role/app", "remote_policies=policy_id:3")
    fresh_vault.cli("write", "tc/role/ar", f"role_arn={DEMO_ROLE_ARN}")
    for role in ("app", "ar"):
        issued = fresh_vault.cli("read", "-format=json", f"tc/creds/{role}").json()
        seen += [issued["data"]["secret_key"], issued["data"].get("token", "")]
        fresh_vault.cli("lease", "revoke", "-sync", issued["lease_id"])
    fresh_vault.cli("write", "-f", "tc/config/rotate-root")
    fresh_vault.cli("write", "tc/static-roles/bot", "username=bot")
    seen.append(
        fresh_vault.cli("read", "-format=json", "tc/static-creds/bot").json()["data"]["secret_key"]
    )
    fresh_vault.cli("write", "-f", "tc/rotate-role/bot")
    seen.append(
        fresh_vault.cli("read", "-format=json", "tc/static-creds/bot").json()["data"]["secret_key"]
    )

    log = fresh_vault.log_text()
    emulator_side = json.dumps(emulator.state) + json.dumps(emulator.requests())
    assert "issued cam_user credential" in log  # the plugin did log at debug and info
    leaked = [s[:4] + "..." for s in seen if s and (s in log or s in emulator_side)]
    assert leaked == []
