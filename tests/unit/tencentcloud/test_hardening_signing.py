"""A captured request cannot be replayed as another action: the engine's signature covers
X-TC-Action. Checked end to end: the client signs and sends a real call to the emulator, and
its exact bytes are then sent again with only the action changed."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.tencentcloud import transport
from tencentcloud_secrets.tencentcloud.transport import PreparedCall
from tests.unit.tencentcloud.support import ClientFactory


def _send(emulator: RunningEmulator, prepared: PreparedCall, **changed: str) -> dict[str, Any]:
    headers = {**prepared.headers, **changed}
    conn = http.client.HTTPConnection(emulator.server.host, emulator.server.port, timeout=10)
    try:
        conn.request("POST", "/", body=prepared.body, headers=headers)
        answer: dict[str, Any] = json.loads(conn.getresponse().read())["Response"]
        return answer
    finally:
        conn.close()


def _captured_list_users(
    emulator: RunningEmulator, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> PreparedCall:
    """The request the client really sent for ListUsers (which the emulator accepted)."""
    sent: list[PreparedCall] = []
    original = transport.build_request

    def recording(**kw: Any) -> PreparedCall:
        prepared = original(**kw)
        sent.append(prepared)
        return prepared

    monkeypatch.setattr(transport, "build_request", recording)
    make_client().cam.list_users()
    assert len(sent) == 1
    assert emulator.requests()[-1]["action"] == "ListUsers"
    return sent[0]


def test_the_signature_covers_the_action(
    emulator: RunningEmulator, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared = _captured_list_users(emulator, make_client, monkeypatch)
    assert "SignedHeaders=content-type;host;x-tc-action," in prepared.headers["Authorization"]
    # The same bytes again are still accepted (within the timestamp's five minutes), so what
    # follows fails because of the changed action and nothing else.
    assert "Error" not in _send(emulator, prepared)
    replayed = _send(emulator, prepared, **{"X-TC-Action": "ListGroups"})
    assert replayed.get("Error", {}).get("Code") == "AuthFailure.SignatureFailure", replayed
    assert emulator.requests()[-1]["action"] == "ListGroups"
    assert emulator.requests()[-1]["code"] == "AuthFailure.SignatureFailure"
