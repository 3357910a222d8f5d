"""Run a Vault backend plugin: handshake, gRPC server, and a clean exit.

The process exits when Vault asks (controller Shutdown), on SIGTERM or SIGINT, and when
Vault goes away without asking (our parent changes or the broker stream closes), so a
crashed Vault never leaves plugin processes behind.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import logging
import os
import signal
import sys
from typing import NoReturn

from . import hclog
from ._proto.goplugin import broker_pb2, controller_pb2, health_pb2, stdio_pb2
from ._proto.vault import backend_pb2, multiplexing_pb2
from ._proto.vault.logical import version_pb2
from .backend import BackendFactory, BackendService, MultiplexingService, VersionService
from .goplugin import Broker, Controller, Health, Stdio
from .grpc_server import GrpcServer, service
from .handshake import (
    LaunchEnvironment,
    handshake_line,
    make_socket_dir,
    remove_socket_dir,
    write_handshake,
)
from .identity import PendingIdentity
from .tls import PluginIdentity

log = logging.getLogger(__name__)

# The shared pool only sets mounts up and cleans them up; requests run on each mount's own
# pool (backend.MOUNT_WORKERS).
CONTROL_WORKERS = 4
PARENT_POLL_SECONDS = 1.0
GC_YOUNG_THRESHOLD = 20_000  # objects; Python's default is 700


def run(
    env: LaunchEnvironment,
    factory: BackendFactory,
    version: str,
    identity: PendingIdentity | None,
    *,
    log_level: int = logging.INFO,
) -> NoReturn:
    """Serve until Vault lets go, then end the process (``launch.serve`` is the entry)."""
    hclog.configure(log_level)
    _tune_collector()
    try:
        code = asyncio.run(_serve(env, factory, version, identity))
    except KeyboardInterrupt:
        code = 0
    # Leave now, without waiting for worker threads still inside a cloud call: Vault has
    # stopped waiting for them (or is gone), and an orphaned process must not go on
    # creating and deleting things. Whatever they left half done has a WAL entry that the
    # next active plugin process rolls back.
    # Vault may be gone with the pipes it reads our output from: a flush that fails must
    # not keep the process from ending (an exception here would wait for those threads).
    with contextlib.suppress(Exception):
        logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _tune_collector() -> None:
    """What is alive at start lives as long as the process: leave it out of every collection.
    Each request allocates a few hundred short-lived objects (HTTP/2 frames, events,
    messages), so the youngest generation fills every few requests at the default threshold;
    a larger one collects as much garbage with a fraction of the passes."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)


async def _watch_parent(shutdown: asyncio.Event) -> None:
    parent = os.getppid()
    while not shutdown.is_set():
        await asyncio.sleep(PARENT_POLL_SECONDS)
        if os.getppid() != parent:
            log.warning("Vault went away; exiting")
            shutdown.set()


async def _watch_broker(broker: Broker, shutdown: asyncio.Event) -> None:
    await broker.stream_closed.wait()
    log.debug("broker stream closed by Vault; exiting")
    shutdown.set()


async def _serve(
    env: LaunchEnvironment, factory: BackendFactory, version: str, pending: PendingIdentity | None
) -> int:
    loop = asyncio.get_running_loop()
    shutdown = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, shutdown.set)

    server_ssl = client_ssl = None
    cert_der: bytes | None = None
    if pending is not None:
        assert env.client_cert_pem is not None
        identity = PluginIdentity(*pending.wait())
        server_ssl = identity.server_context(env.client_cert_pem)
        client_ssl = identity.client_context(env.client_cert_pem)
        cert_der = identity.der

    executor = concurrent.futures.ThreadPoolExecutor(CONTROL_WORKERS, thread_name_prefix="control")
    broker = Broker(client_ssl)
    backend = BackendService(factory, broker, executor, metadata_mode=env.metadata_mode)
    server = GrpcServer(
        [
            service(backend_pb2.DESCRIPTOR.services_by_name["Backend"], backend),
            service(
                version_pb2.DESCRIPTOR.services_by_name["PluginVersion"], VersionService(version)
            ),
            service(
                multiplexing_pb2.DESCRIPTOR.services_by_name["PluginMultiplexing"],
                MultiplexingService(),
            ),
            service(broker_pb2.DESCRIPTOR.services_by_name["GRPCBroker"], broker),
            service(
                controller_pb2.DESCRIPTOR.services_by_name["GRPCController"], Controller(shutdown)
            ),
            service(stdio_pb2.DESCRIPTOR.services_by_name["GRPCStdio"], Stdio(shutdown)),
            service(health_pb2.DESCRIPTOR.services_by_name["Health"], Health()),
        ]
    )
    socket_dir = make_socket_dir(env.socket_dir)
    socket_path = os.path.join(socket_dir, "plugin.sock")
    try:
        await server.start(path=socket_path, ssl=server_ssl)
        write_handshake(handshake_line(socket_path, cert_der))
        watchers = [
            asyncio.create_task(_watch_parent(shutdown)),
            asyncio.create_task(_watch_broker(broker, shutdown)),
        ]
        await shutdown.wait()
        for task in watchers:
            task.cancel()
        await backend.cleanup_all()
        server.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 1.0)
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
        remove_socket_dir(socket_dir)
    return 0
