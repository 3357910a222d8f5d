"""gRPC's own vocabulary, shared by the plugin's server and client: status codes, the error a
call ends with, and how ``grpc-timeout`` and ``grpc-message`` are written on the wire."""

from __future__ import annotations

import enum
import math
import struct

MAX_TIMEOUT_DIGITS = 8  # gRPC's limit on the number in grpc-timeout
# The largest message either end accepts. Vault refuses an HTTP request larger than its
# max_request_size (32 MiB by default) before it reaches a plugin, so no legitimate request
# comes near this; twice that leaves room for the request's envelope (headers, connection
# data) and for storage replies. What a peer announces beyond it is refused from the 5-byte
# prefix alone, before any of the message is buffered.
MAX_MESSAGE_SIZE = 64 << 20
MESSAGE_PREFIX = struct.Struct(">BL")  # compressed flag, length
_TIMEOUT_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}


class Status(enum.IntEnum):
    """gRPC status codes (grpc/doc/statuscodes.md)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class RpcError(Exception):
    """A call that ended with a status other than OK: raised by a handler to answer with it,
    and by the client when the peer answered with it."""

    def __init__(self, status: Status, message: str = "") -> None:
        super().__init__(f"{status.name}: {message}" if message else status.name)
        self.status = status
        self.message = message


class MessageReader:
    """gRPC's length-prefixed messages out of a stream's DATA, as they complete.

    A message whose prefix announces more than ``max_size`` bytes is refused at once
    (``RpcError`` RESOURCE_EXHAUSTED, as grpc-go answers), so a peer within the flow-control
    windows cannot make us buffer a message we would refuse anyway."""

    def __init__(self, max_size: int = MAX_MESSAGE_SIZE) -> None:
        self.max_size = max_size
        self._partial = bytearray()

    @property
    def pending(self) -> int:
        """Bytes of a message not yet complete."""
        return len(self._partial)

    def feed(self, data: bytes) -> list[tuple[bool, bytes]]:
        """The messages ``data`` completes, each as (compressed flag, message)."""
        partial = self._partial
        partial += data
        done: list[tuple[bool, bytes]] = []
        while len(partial) >= 5:
            compressed, length = MESSAGE_PREFIX.unpack_from(partial)
            if length > self.max_size:
                partial.clear()
                raise RpcError(
                    Status.RESOURCE_EXHAUSTED,
                    f"received message larger than max ({length} vs. {self.max_size})",
                )
            if len(partial) < 5 + length:
                break
            done.append((bool(compressed), bytes(partial[5 : 5 + length])))
            del partial[: 5 + length]
        return done

    def clear(self) -> None:
        self._partial.clear()


def encode_timeout(seconds: float) -> str:
    """The shortest exact-enough ``grpc-timeout`` value: milliseconds, or coarser units when
    the number would need more than eight digits."""
    millis = max(1, math.ceil(seconds * 1000))
    if millis < 10**MAX_TIMEOUT_DIGITS:
        return f"{millis}m"
    whole = math.ceil(seconds)
    if whole < 10**MAX_TIMEOUT_DIGITS:
        return f"{whole}S"
    return f"{min(math.ceil(seconds / 3600), 10**MAX_TIMEOUT_DIGITS - 1)}H"


def decode_timeout(value: str) -> float:
    """Seconds from a ``grpc-timeout`` value; ValueError when it is malformed."""
    number, unit = value[:-1], value[-1:]
    if not number.isdigit() or len(number) > MAX_TIMEOUT_DIGITS or unit not in _TIMEOUT_UNITS:
        raise ValueError(f"malformed grpc-timeout {value!r}")
    return int(number) * _TIMEOUT_UNITS[unit]


def encode_message(text: str) -> bytes:
    """``grpc-message``: UTF-8, with '%' and every byte outside printable ASCII as %XX."""
    out = bytearray()
    for byte in text.encode("utf-8"):
        if 0x20 <= byte <= 0x7E and byte != 0x25:
            out.append(byte)
        else:
            out += b"%%%02X" % byte
    return bytes(out)


def decode_message(raw: bytes) -> str:
    """The text of a ``grpc-message``; a malformed escape is kept as it is, never an error."""
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == 0x25 and _is_hex(raw[i + 1 : i + 3]):
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode("utf-8", "replace")


def _is_hex(pair: bytes) -> bool:
    return len(pair) == 2 and all(c in b"0123456789abcdefABCDEF" for c in pair)
