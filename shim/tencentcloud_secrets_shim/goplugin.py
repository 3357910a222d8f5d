"""go-plugin's own services on the plugin side: broker, controller, stdio and health."""

from __future__ import annotations

import asyncio
import logging
import ssl

from google.protobuf import empty_pb2

from ._proto.goplugin import broker_pb2, controller_pb2
from ._proto.goplugin.health_pb2 import HealthCheckRequest, HealthCheckResponse
from .grpc_server import ServerStream
from .remote import BrokerTarget

log = logging.getLogger(__name__)

BROKER_DIAL_TIMEOUT = 5.0  # go-plugin waits as long for a ConnInfo


class Broker:
    """Receives the addresses Vault announces for brokered services."""

    def __init__(self, client_ssl: ssl.SSLContext | None) -> None:
        self._client_ssl = client_ssl
        self._known: dict[int, asyncio.Future[broker_pb2.ConnInfo]] = {}
        self.stream_closed = asyncio.Event()

    def _slot(self, service_id: int) -> asyncio.Future[broker_pb2.ConnInfo]:
        if service_id not in self._known:
            self._known[service_id] = asyncio.get_running_loop().create_future()
        return self._known[service_id]

    async def StartStream(self, stream: ServerStream[broker_pb2.ConnInfo]) -> None:
        try:
            async for info in stream:
                slot = self._slot(info.service_id)
                if not slot.done():
                    slot.set_result(info)
        finally:
            self.stream_closed.set()

    async def dial(self, service_id: int) -> BrokerTarget:
        """Wait for Vault to announce ``service_id``; return where and how to connect."""
        slot = self._slot(service_id)
        try:
            info = await asyncio.wait_for(asyncio.shield(slot), BROKER_DIAL_TIMEOUT)
        except TimeoutError:
            raise ConnectionError(f"timeout waiting for broker connection {service_id}") from None
        finally:
            self._known.pop(service_id, None)
        if info.network != "unix":
            raise ConnectionError(f"unsupported broker network {info.network!r}")
        return BrokerTarget(info.address, self._client_ssl)


class Controller:
    """Vault's request to exit: set the shutdown event; the server winds down from there."""

    def __init__(self, shutdown: asyncio.Event) -> None:
        self._shutdown = shutdown

    async def Shutdown(self, stream: ServerStream[controller_pb2.Empty]) -> None:
        await stream.recv_message()
        await stream.send_message(controller_pb2.Empty())
        log.debug("shutdown requested by Vault")
        # Let the reply reach Vault before the server stops.
        asyncio.get_running_loop().call_later(0.05, self._shutdown.set)


class Stdio:
    """Vault opens this stream once and keeps it; our logs go to stderr directly instead."""

    def __init__(self, shutdown: asyncio.Event) -> None:
        self._shutdown = shutdown

    async def StreamStdio(self, stream: ServerStream[empty_pb2.Empty]) -> None:
        await stream.recv_message()
        await stream.send_initial_metadata()
        await self._shutdown.wait()


class Health:
    """go-plugin pings service "plugin"; the process is healthy while it can answer."""

    async def Check(self, stream: ServerStream[HealthCheckRequest]) -> None:
        await stream.recv_message()
        await stream.send_message(HealthCheckResponse(status=HealthCheckResponse.SERVING))

    async def Watch(self, stream: ServerStream[HealthCheckRequest]) -> None:
        await stream.recv_message()
        await stream.send_message(HealthCheckResponse(status=HealthCheckResponse.SERVING))
