"""The event loops the shim runs on: uvloop's, for the server and for every worker thread.

Each request costs the plugin two rounds of TLS, HTTP/2 framing and protobuf on its event
loop; uvloop's transports (libuv, in C) do their part of that work at a fraction of
asyncio's cost, measured under Vault in docs/benchmark.md.
"""

from __future__ import annotations

import asyncio

import uvloop


def new_event_loop() -> asyncio.AbstractEventLoop:
    return uvloop.new_event_loop()
