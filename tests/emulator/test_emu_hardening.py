"""What the emulator refuses so that the developer's browser and other machines cannot use it
behind their back: admin plane and metadata for non-loopback hosts, admin writes a web page
could send, request bodies of unknown or excessive length; and the warning when it listens
beyond loopback."""

from __future__ import annotations

import http.client
import json
import socket
import time
from typing import Any

import pytest

from tencentcloud_emulator import hosts
from tencentcloud_emulator.handler import MAX_BODY_BYTES
from tencentcloud_emulator.metadata import PREFIX as METADATA
from tencentcloud_emulator.server import EmulatorServer
from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.tencentcloud.signer import sign
from tests.support.emulator_cli import emulator_process

CLOCK = "/_emulator/clock"
JSON = "application/json"


def _exchange(emu: RunningEmulator, head: str, body: bytes = b"") -> tuple[int, Any]:
    """Send a request exactly as written (CRLFs added); the answer's status and JSON body.
    A server that waits for more instead of answering fails the test at the timeout."""
    raw = head.strip("\n").replace("\n", "\r\n").encode() + b"\r\n\r\n" + body
    with socket.create_connection((emu.server.host, emu.server.port), timeout=10) as sock:
        sock.sendall(raw)
        response = http.client.HTTPResponse(sock)
        response.begin()
        data = response.read()
    return response.status, json.loads(data) if data.startswith((b"{", b"[")) else data


def _request(
    emu: RunningEmulator,
    method: str,
    path: str,
    *,
    host: str | None = None,
    content_type: str | None = JSON,
    body: bytes = b"",
) -> tuple[int, Any]:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {emu.host_port if host is None else host}"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    lines += [f"Content-Length: {len(body)}", "Connection: close"]
    return _exchange(emu, "\n".join(lines), body)


def _clock(emu: RunningEmulator) -> float:
    return float(emu.emulator.world.env.clock_offset)


# --- Host: the admin plane and the metadata path answer loopback names only ------------------


@pytest.mark.parametrize(
    "host",
    [
        "attacker.example",
        "attacker.example:{port}",
        "127.0.0.1.nip.io:{port}",
        "localhost.attacker.example",
        "[::ffff:127.0.0.1]:{port}",
        "",
    ],
)
@pytest.mark.parametrize("path", ["/_emulator/state", METADATA, METADATA + "vault-demo-role"])
def test_a_foreign_host_gets_neither_admin_nor_metadata(
    emulator: RunningEmulator, host: str, path: str
) -> None:
    status, answer = _request(emulator, "GET", path, host=host.format(port=emulator.server.port))
    assert status == 403
    assert "loopback" in answer["error"]


def test_a_rebound_page_cannot_move_the_clock(emulator: RunningEmulator) -> None:
    body = json.dumps({"advance": 86400}).encode()
    status, _ = _request(emulator, "POST", CLOCK, host="attacker.example", body=body)
    assert status == 403
    assert _clock(emulator) == 0


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}", "LocalHost"]
)
def test_loopback_names_reach_the_admin_plane_and_metadata(
    emulator: RunningEmulator, host: str
) -> None:
    name = host.format(port=emulator.server.port)
    assert _request(emulator, "GET", "/_emulator/health", host=name) == (200, {"ok": True})
    assert _request(emulator, "GET", METADATA, host=name) == (200, b"vault-demo-role")


def test_two_host_headers_or_none_are_refused(emulator: RunningEmulator) -> None:
    head = f"GET /_emulator/health HTTP/1.1\nHost: {emulator.host_port}\nHost: attacker.example"
    assert _exchange(emulator, head)[0] == 403
    assert _exchange(emulator, "GET /_emulator/health HTTP/1.0")[0] == 403


def test_allowed_hosts_are_added_to_the_loopback_ones(emulator_session: RunningEmulator) -> None:
    with EmulatorServer(emulator_session.emulator, allow_hosts=("Emulator",)) as server:
        emu = RunningEmulator(server)
        assert _request(emu, "GET", "/_emulator/health", host="emulator:9400")[0] == 200
        assert _request(emu, "GET", "/_emulator/health", host=emu.host_port)[0] == 200
        assert _request(emu, "GET", "/_emulator/health", host="other:9400")[0] == 403


def test_the_api_answers_any_host_it_was_signed_for(emulator: RunningEmulator) -> None:
    """Clients reach the API by their endpoint's name (a container's service name in CI):
    not limited, since every call is signed with a key of the emulator's world."""
    host = f"emulator:{emulator.server.port}"
    payload, timestamp = b"{}", int(time.time())
    signed = sign(
        secret_id=emulator.secret_id,
        secret_key=emulator.secret_key,
        service="sts",
        host=host,
        timestamp=timestamp,
        payload=payload,
        content_type=JSON,
    )
    head = "\n".join(
        [
            "POST / HTTP/1.1",
            f"Host: {host}",
            f"Content-Type: {JSON}",
            "X-TC-Action: GetCallerIdentity",
            "X-TC-Version: 2018-08-13",
            "X-TC-Region: ap-guangzhou",
            f"X-TC-Timestamp: {timestamp}",
            f"Authorization: {signed.authorization}",
            f"Content-Length: {len(payload)}",
            "Connection: close",
        ]
    )
    status, answer = _exchange(emulator, head, payload)
    assert status == 200
    assert answer["Response"]["AccountId"] == str(emulator.owner_uin)


@pytest.mark.parametrize(
    "host",
    ["localhost", "LOCALHOST:1", "127.0.0.1", "127.0.0.1:9400", "127.1.2.3:8", "[::1]", "[::1]:80"],
)
def test_loopback_host_headers(host: str) -> None:
    assert hosts.is_loopback(host)


@pytest.mark.parametrize(
    "host",
    [None, "", "::1", "[127.0.0.1]", "0.0.0.0", "localhost.", "localhost.example", "2130706433"],
)
def test_other_host_headers(host: str | None) -> None:
    assert not hosts.is_loopback(host)


# --- admin writes: only with a type no web page can send unasked --------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        None,
    ],
)
def test_an_admin_write_a_web_page_could_send_is_refused(
    emulator: RunningEmulator, content_type: str | None
) -> None:
    body = json.dumps({"advance": 86400}).encode()
    status, answer = _request(emulator, "POST", CLOCK, content_type=content_type, body=body)
    assert status == 415
    assert "application/json" in answer["error"]
    assert _clock(emulator) == 0
    faults = json.dumps({"faults": [{"action": "*", "code": "InternalError"}]}).encode()
    status, _ = _request(
        emulator, "PUT", "/_emulator/faults", content_type=content_type, body=faults
    )
    assert status == 415
    assert emulator.emulator.fault_config()["faults"] == []


@pytest.mark.parametrize("content_type", [JSON, "application/json; charset=utf-8", "text/yaml"])
def test_admin_writes_with_json_or_yaml_work(emulator: RunningEmulator, content_type: str) -> None:
    body = b"advance: 60" if "yaml" in content_type else b'{"advance": 60}'
    status, answer = _request(emulator, "POST", CLOCK, content_type=content_type, body=body)
    assert (status, answer) == (200, {"clock_offset": 60.0})


def test_admin_delete_needs_no_type(emulator: RunningEmulator) -> None:
    """A browser preflights DELETE, and the emulator never allows one."""
    assert _request(emulator, "DELETE", "/_emulator/requests", content_type=None)[0] == 200


# --- request bodies: one valid length, within the limit, or no reading at all ------------------


@pytest.mark.parametrize(
    "lengths",
    [["-1"], ["abc"], ["0x10"], ["+2"], ["1.5"], ["2", "3"], ["2, 3"], ["2,"]],
)
@pytest.mark.parametrize("path", ["/", CLOCK])
def test_an_invalid_content_length_is_refused(
    emulator: RunningEmulator, lengths: list[str], path: str
) -> None:
    head = [f"POST {path} HTTP/1.1", f"Host: {emulator.host_port}", f"Content-Type: {JSON}"]
    head += [f"Content-Length: {value}" for value in lengths]
    # The body is left open: a server that trusted the length would wait for more.
    status, answer = _exchange(emulator, "\n".join(head), b"{}")
    assert status == 400
    assert "Content-Length" in answer["error"]


def test_the_same_content_length_twice_is_accepted(emulator: RunningEmulator) -> None:
    head = [f"POST {CLOCK} HTTP/1.1", f"Host: {emulator.host_port}", f"Content-Type: {JSON}"]
    head += ["Content-Length: 15", "Content-Length: 15", "Connection: close"]
    assert _exchange(emulator, "\n".join(head), b'{"advance": 60}')[0] == 200


@pytest.mark.parametrize("path", ["/", CLOCK])
def test_a_body_over_the_limit_is_refused_unread(emulator: RunningEmulator, path: str) -> None:
    head = [f"POST {path} HTTP/1.1", f"Host: {emulator.host_port}", f"Content-Type: {JSON}"]
    head.append(f"Content-Length: {MAX_BODY_BYTES + 1}")
    # Not a byte of the body is sent: the answer cannot wait for it.
    status, answer = _exchange(emulator, "\n".join(head))
    assert status == 413
    assert "too large" in answer["error"]


def test_a_chunked_body_is_refused(emulator: RunningEmulator) -> None:
    head = [f"POST {CLOCK} HTTP/1.1", f"Host: {emulator.host_port}", f"Content-Type: {JSON}"]
    head.append("Transfer-Encoding: chunked")
    status, _ = _exchange(emulator, "\n".join(head), b'f\r\n{"advance": 60}\r\n0\r\n\r\n')
    assert status == 501
    assert _clock(emulator) == 0


# --- listening beyond loopback ---------------------------------------------------------------


def _stderr_of_a_start(*args: str) -> str:
    with emulator_process(*args) as running:
        assert "listening on" in running.listening_line
    return running.stderr


def test_listening_beyond_loopback_is_warned_about() -> None:
    stderr = _stderr_of_a_start("--host", "0.0.0.0")
    assert "WARNING: listening on 0.0.0.0, beyond this machine's loopback" in stderr
    assert "WARNING" not in _stderr_of_a_start()
