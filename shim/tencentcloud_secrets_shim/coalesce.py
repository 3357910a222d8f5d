"""A gRPC server whose writes leave once per event-loop iteration instead of once per frame.

grpclib writes each HTTP/2 frame group as soon as it is built: a unary reply is three writes
(headers, message, trailers), and under mutual TLS every write is a TLS record of its own
and a system call. Profiled under Vault at 32 clients, those writes were the largest single
cost of the plugin's event loop. Here the transport only collects what grpclib writes and
sends it all once the loop has run every callback that was ready: one record and one system
call for a reply, fewer still when several replies finish in the same iteration. Nothing
waits longer than that iteration.

This hooks ``Server._protocol_factory`` of the pinned grpclib (setup.cfg): every integration
test goes through it, so a grpclib that changed it would fail them.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from grpclib.protocol import H2Protocol
from grpclib.server import Server


class CoalescingTransport:
    """Stands in for the connection's transport: ``write`` collects, the loop flushes."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._pending: list[bytes] = []
        self._loop = asyncio.get_running_loop()

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _CoalescingProtocol(H2Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        wrapped = CoalescingTransport(cast(asyncio.Transport, transport))
        super().connection_made(cast(asyncio.Transport, wrapped))


class CoalescingServer(Server):
    """grpclib's ``Server``, with every connection's writes coalesced per loop iteration."""

    def _protocol_factory(self) -> H2Protocol:
        plain = super()._protocol_factory()
        return _CoalescingProtocol(plain.handler, plain.config, plain.h2_config)
