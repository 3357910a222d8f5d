"""The plugin in Vault reaching the cloud as in production: by the public API names, over TLS,
through the HTTPS proxy and with the CA bundle its catalog entry's environment names."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tencentcloud_emulator.testing import RunningEmulator, running_emulator
from tests.support.account import user_names
from tests.support.seed import COS_READ, DEMO_ROLE_ARN
from tools.vaultserver import VaultServer

NAME = "tencentcloud-proxied"


@pytest.fixture(scope="module")
def proxied_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    ca = tmp_path_factory.mktemp("proxied") / "ca.pem"
    with running_emulator(proxy_port=0, ca_file=ca) as emulator:
        yield emulator


def test_credentials_through_the_proxy_by_the_public_names(
    vault: VaultServer, proxied_emulator: RunningEmulator
) -> None:
    emulator = proxied_emulator
    sha = vault.install_plugin(NAME)
    ca = str(emulator.ca_file)
    vault.cli(
        "plugin",
        "register",
        f"-sha256={sha}",
        f"-env=HTTPS_PROXY={emulator.proxy_url}",
        # The first bundle variable set wins; the host running the tests may set its own.
        f"-env=REQUESTS_CA_BUNDLE={ca}",
        f"-env=SSL_CERT_FILE={ca}",
        "secret",
        NAME,
    )
    vault.cli("secrets", "enable", "-path=proxied", NAME)
    try:
        # No endpoints: cam.tencentcloudapi.com and sts.tencentcloudapi.com, as in production.
        vault.cli(
            "write",
            "proxied/config",
            f"secret_id={emulator.secret_id}",
            f"secret_key={emulator.secret_key}",
            "region=ap-guangzhou",
        )
        vault.cli("write", "proxied/role/sts", f"role_arn={DEMO_ROLE_ARN}")
        vault.cli("write", "proxied/role/cam", f"remote_policies={COS_READ}")
        sts = vault.cli("read", "-format=json", "proxied/creds/sts").json()
        assert sts["data"]["token"]
        cam = vault.cli("read", "-format=json", "proxied/creds/cam").json()
        assert cam["data"]["username"] in user_names(emulator)
        vault.cli("lease", "revoke", "-sync", cam["lease_id"])
        assert cam["data"]["username"] not in user_names(emulator)
        hosts = {entry["headers"]["host"] for entry in emulator.requests()}
        assert hosts == {"cam.tencentcloudapi.com", "sts.tencentcloudapi.com"}
        vault.cli("delete", "proxied/role/cam")
        vault.cli("delete", "proxied/role/sts")
    finally:
        vault.cli("secrets", "disable", "proxied", check=False)
        vault.cli("plugin", "deregister", "secret", NAME, check=False)
        Path(vault.plugin_dir / NAME).unlink(missing_ok=True)
