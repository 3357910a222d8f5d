"""The plugin's log lines reach Vault's log at their own level, under the plugin's name."""

from __future__ import annotations

import re

from tools.vaultserver import PLUGIN_NAME, VaultServer


def test_log_lines_at_their_level(fresh_vault: VaultServer) -> None:
    sha = fresh_vault.install_plugin()
    fresh_vault.cli(
        "plugin",
        "register",
        f"-sha256={sha}",
        "-env=TENCENTCLOUD_PLUGIN_LOG_LEVEL=debug",
        "secret",
        PLUGIN_NAME,
    )
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
