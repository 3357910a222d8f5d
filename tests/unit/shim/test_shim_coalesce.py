"""Writes of one event-loop iteration leave the plugin as one write to the transport."""

from __future__ import annotations

import asyncio
from typing import Any

from tencentcloud_secrets_shim.coalesce import CoalescingTransport


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": "vault"}.get(name, default)


def test_frames_of_one_iteration_are_sent_together_in_order() -> None:
    async def scenario() -> list[bytes]:
        real = RecordingTransport()
        transport = CoalescingTransport(real)
        for frame in (b"headers", b"", b"message", b"trailers"):
            transport.write(frame)
        assert real.writes == []  # nothing leaves before the loop has run what was ready
        await asyncio.sleep(0)
        transport.write(b"next")
        await asyncio.sleep(0)
        assert transport.get_extra_info("peername") == "vault"  # everything else passes
        return real.writes

    assert asyncio.run(scenario()) == [b"headersmessagetrailers", b"next"]


def test_close_sends_what_is_pending_first() -> None:
    async def scenario() -> RecordingTransport:
        real = RecordingTransport()
        transport = CoalescingTransport(real)
        transport.write(b"goaway")
        transport.close()
        await asyncio.sleep(0)
        return real

    real = asyncio.run(scenario())
    assert real.writes == [b"goaway"]
    assert real.closed
