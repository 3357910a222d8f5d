"""The TLS identity: made in a child process, made here when that cannot run, usable by ssl."""

from __future__ import annotations

import ssl
import sys

import pytest

from tencentcloud_secrets_shim import identity
from tencentcloud_secrets_shim.identity import PendingIdentity
from tencentcloud_secrets_shim.tls import PluginIdentity
from tools.vaultserver import vault_like_certificate


def _usable(pems: tuple[bytes, bytes]) -> None:
    made = PluginIdentity(*pems)
    vault_pem = vault_like_certificate()[0]
    assert ssl.DER_cert_to_PEM_cert(made.der).startswith("-----BEGIN CERTIFICATE-----")
    made.server_context(vault_pem)
    made.client_context(vault_pem)
    assert "BEGIN" not in repr(made)


def test_the_child_process_makes_a_key_pair_ssl_can_load() -> None:
    pending = PendingIdentity()
    assert pending._child is not None
    _usable(pending.wait())
    assert pending._child.returncode == 0


def test_two_launches_get_two_different_identities() -> None:
    assert PendingIdentity().wait()[0] != PendingIdentity().wait()[0]


def test_without_a_child_the_key_pair_is_made_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    pending = PendingIdentity()
    assert pending._child is None
    _usable(pending.wait())


def test_a_failing_child_falls_back_too(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(identity, "_CHILD_CODE", "import sys; sys.exit('no key today')")
    _usable(PendingIdentity().wait())
    assert "no key today" in caplog.text


def test_output_that_is_not_a_certificate_and_key_is_refused() -> None:
    with pytest.raises(identity.IdentityError):
        identity._split(b"garbage")
