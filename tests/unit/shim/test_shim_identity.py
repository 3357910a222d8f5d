"""The TLS identity: made in a forked child, made here when that cannot run, usable by ssl."""

from __future__ import annotations

import os
import time

import pytest

from tencentcloud_secrets_shim import certificate, identity
from tencentcloud_secrets_shim.identity import PendingIdentity
from tencentcloud_secrets_shim.tls import PluginIdentity
from tools.vaultserver import vault_like_certificate

# Made once, before any test replaces the certificate builder that it uses too.
VAULT_PEM = vault_like_certificate()[0]


def _usable(pems: tuple[bytes, bytes]) -> None:
    made = PluginIdentity(*pems)
    vault_pem = VAULT_PEM
    made.server_context(vault_pem)
    made.client_context(vault_pem)
    assert "BEGIN" not in repr(made)


def test_the_child_process_makes_a_key_pair_ssl_can_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pending = PendingIdentity()
    assert pending._pid is not None
    child = pending._pid
    # From here on, a key pair made in this process would be refused: it must be the child's.
    monkeypatch.setattr(certificate, "self_signed", lambda: (b"", b""))
    _usable(pending.wait())
    with pytest.raises(ChildProcessError):
        os.waitpid(child, os.WNOHANG)  # reaped


def test_two_launches_get_two_different_identities() -> None:
    assert PendingIdentity().wait()[0] != PendingIdentity().wait()[0]


def test_without_a_child_the_key_pair_is_made_here(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork() -> int:
        raise OSError("fork refused")

    monkeypatch.setattr(os, "fork", no_fork)
    pending = PendingIdentity()
    assert pending._pid is None
    _usable(pending.wait())


def test_a_failing_child_falls_back_too(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    made_here = certificate.self_signed

    def failing() -> tuple[bytes, bytes]:
        raise RuntimeError("no key today")

    monkeypatch.setattr(certificate, "self_signed", failing)  # the child inherits this
    pending = PendingIdentity()
    monkeypatch.setattr(certificate, "self_signed", made_here)
    _usable(pending.wait())
    assert "exit status 1" in caplog.text


def test_a_child_that_hangs_is_killed_and_the_pair_made_here(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    made_here = certificate.self_signed

    def hang() -> tuple[bytes, bytes]:
        time.sleep(60)
        raise AssertionError("not reached")

    monkeypatch.setattr(certificate, "self_signed", hang)
    pending = PendingIdentity()
    monkeypatch.setattr(certificate, "self_signed", made_here)
    monkeypatch.setattr(identity, "CHILD_TIMEOUT", 0.5)
    _usable(pending.wait())
    assert "no key pair in time" in caplog.text


def test_output_that_is_not_a_certificate_and_key_is_refused() -> None:
    with pytest.raises(identity.IdentityError):
        identity._split(b"garbage")


def test_without_memfd_the_key_pair_loads_through_pipes(monkeypatch: pytest.MonkeyPatch) -> None:
    # The release file's interpreter is built against a C library without memfd_create.
    monkeypatch.delattr(os, "memfd_create")
    _usable(PendingIdentity().wait())
