"""The blocking client fed random frame sequences as Vault's replies.

Whatever a peer sends, a call ends in one of the ways its callers handle (a reply,
``RpcError``, ``BrokenConnectionError``, ``OSError``): never another exception escaping from
a frame parser. A well-formed reply with harmless frames mixed in (PING, SETTINGS,
WINDOW_UPDATE, frame types HTTP/2 says to ignore) is read as the reply it is; the `hpack`
package encodes the header blocks, independently of the client's decoder.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import tempfile
import threading
from pathlib import Path

import hpack
from google.protobuf.wrappers_pb2 import BytesValue
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tencentcloud_secrets_shim import rpc
from tencentcloud_secrets_shim.grpc_client import BrokenConnectionError, UnaryClient


def _raw(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    length = len(payload)
    return struct.pack(">HBBBL", length >> 8, length & 255, kind, flags, stream_id) + payload


def _reply_frames(value: bytes) -> list[bytes]:
    encoder = hpack.Encoder()
    head = encoder.encode([(":status", "200"), ("content-type", "application/grpc")])
    body = BytesValue(value=value).SerializeToString()
    tail = encoder.encode([("grpc-status", "0")])
    return [
        _raw(1, 0x4, 1, head),
        _raw(0, 0, 1, struct.pack(">BL", 0, len(body)) + body),
        _raw(1, 0x5, 1, tail),
    ]


HARMLESS = st.one_of(
    st.binary(min_size=8, max_size=8).map(lambda p: _raw(6, 0, 0, p)),  # PING
    st.just(_raw(4, 0, 0, b"")),  # empty SETTINGS
    st.integers(1, 1000).map(lambda n: _raw(8, 0, 0, struct.pack(">L", n))),  # WINDOW_UPDATE
    st.binary(max_size=16).map(lambda p: _raw(0xEE, 0, 1, p)),  # an unknown type
)
NOISE = st.builds(
    _raw,
    st.integers(0, 12),
    st.integers(0, 255),
    st.sampled_from([0, 1, 2, 3, 0x7FFFFFFF]),
    st.binary(max_size=40),
)


def _exchange(frames: bytes, timeout: float = 2.0) -> object:
    """One call against a peer that answers with ``frames`` and then closes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "s.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(1)

        def serve() -> None:
            conn, _ = listener.accept()
            with conn:
                received = b""
                while b"\x00\x01\x00\x00\x00\x01" not in received:  # the request's last DATA
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    received += chunk
                with contextlib.suppress(OSError):
                    conn.sendall(_raw(4, 0, 0, b"") + frames)
                    conn.shutdown(socket.SHUT_WR)
                    while conn.recv(65536):  # until the client closes its side
                        pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        client = UnaryClient(path, None)
        try:
            return client.call("/t.S/echo", BytesValue(value=b"x"), BytesValue, timeout)
        except (rpc.RpcError, BrokenConnectionError, OSError) as exc:
            return exc
        finally:
            client.close()
            thread.join(5)
            listener.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=st.binary(max_size=64),
    extras=st.lists(st.tuples(st.integers(0, 3), HARMLESS), max_size=4),
)
def test_a_reply_with_harmless_frames_mixed_in_is_read(
    value: bytes, extras: list[tuple[int, bytes]]
) -> None:
    frames = _reply_frames(value)
    for position, extra in extras:
        frames.insert(min(position, len(frames) - 1), extra)
    outcome = _exchange(b"".join(frames))
    assert isinstance(outcome, BytesValue), outcome
    assert outcome.value == value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=st.binary(max_size=32),
    noise=st.lists(st.tuples(st.integers(0, 3), NOISE), min_size=1, max_size=5),
    cut=st.integers(0, 400),
)
def test_any_frames_end_the_call_in_a_way_its_callers_handle(
    value: bytes, noise: list[tuple[int, bytes]], cut: int
) -> None:
    frames = _reply_frames(value)
    for position, extra in noise:
        frames.insert(position, extra)
    wire = b"".join(frames)
    outcome = _exchange(wire[: len(wire) - cut] if cut < len(wire) else wire)
    assert isinstance(outcome, BytesValue | rpc.RpcError | BrokenConnectionError | OSError), outcome
