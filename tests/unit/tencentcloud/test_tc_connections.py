"""The client's own HTTP connections: the proxy and CA the environment names, keep-alive reuse,
servers that close or misbehave.

Through the emulator's CONNECT proxy the client reaches ``cam.tencentcloudapi.com`` by name,
as it does in production; a raw socket server plays the misbehaving peer.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tencentcloud_emulator.testing import RunningEmulator, running_emulator
from tencentcloud_secrets.tencentcloud import (
    Credentials,
    EndpointResolver,
    NotFoundError,
    TencentCloudClient,
    TransportError,
)
from tencentcloud_secrets.tencentcloud import transport as transport_module
from tencentcloud_secrets.tencentcloud.async_connections import READ_SIZE, AsyncConnectionPool
from tencentcloud_secrets.tencentcloud.connections import (
    IDLE_SECONDS,
    MAX_ANSWER_BYTES,
    Answer,
    ConnectError,
    ConnectionPool,
    ExchangeError,
    Proxy,
    ProxyRules,
    trust_context,
)
from tencentcloud_secrets.tencentcloud.endpoints import Endpoint
from tencentcloud_secrets.tencentcloud.models_cam import GetUserRequest
from tencentcloud_secrets.tencentcloud.transport import STS, RetryPolicy

HEADERS = {"Host": "127.0.0.1", "Content-Type": "application/json"}
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningEmulator, Path]]:
    ca = tmp_path_factory.mktemp("ca") / "ca.pem"
    with running_emulator(proxy_port=0, ca_file=ca) as emu:
        yield emu, ca


def _client(emu: RunningEmulator, environ: dict[str, str]) -> TencentCloudClient:
    """A client with no endpoint override: it names cam.tencentcloudapi.com."""
    return TencentCloudClient(
        Credentials(emu.secret_id, emu.secret_key),
        region="ap-guangzhou",
        endpoints=EndpointResolver(),
        retry=RetryPolicy(max_attempts=1),
        environ=environ,
    )


def test_proxy_and_ca_from_the_environment_reach_the_api_by_name(
    proxied: tuple[RunningEmulator, Path],
) -> None:
    emu, ca = proxied
    emu.emulator.requests.clear()
    environ = {"HTTPS_PROXY": emu.proxy_url, "SSL_CERT_FILE": str(ca)}
    with _client(emu, environ) as client:
        for _ in range(5):
            # A signed call the API answered (the user does not exist): the key was accepted.
            with pytest.raises(NotFoundError):
                client.cam.get_user(GetUserRequest("nobody"))
        pool = client.transport.pool(Endpoint("https", "cam.tencentcloudapi.com"))
        assert pool.proxy is not None
        # Five calls in a row, one connection (one CONNECT, one TLS handshake).
        assert (pool.opened, pool.idle_count()) == (1, 1)
    logged = emu.requests("GetUser")
    assert len(logged) == 5
    assert {entry["headers"]["host"] for entry in logged} == {"cam.tencentcloudapi.com"}


def test_an_untrusted_certificate_is_refused_before_anything_is_sent(
    proxied: tuple[RunningEmulator, Path],
) -> None:
    emu, _ = proxied
    emu.emulator.requests.clear()
    client = _client(emu, {"HTTPS_PROXY": emu.proxy_url})  # certifi's bundle only
    with client, pytest.raises(TransportError) as info:
        client.cam.get_user(GetUserRequest("vault-demo-user"))
    assert info.value.possibly_sent is False
    assert "not trusted" in str(info.value)
    assert emu.requests() == []


def test_a_proxy_that_refuses_the_tunnel_is_named_in_the_error(
    proxied: tuple[RunningEmulator, Path],
) -> None:
    emu, ca = proxied
    environ = {"HTTPS_PROXY": emu.proxy_url, "SSL_CERT_FILE": str(ca)}
    resolver = EndpointResolver(overrides={"cam": Endpoint("https", "example.com")})
    client = TencentCloudClient(
        Credentials(emu.secret_id, emu.secret_key),
        endpoints=resolver,
        retry=RetryPolicy(max_attempts=1),
        environ=environ,
    )
    with client, pytest.raises(TransportError) as info:
        client.cam.get_user(GetUserRequest("vault-demo-user"))
    assert info.value.possibly_sent is False
    assert "proxy refused" in str(info.value)
    assert "403" in str(info.value)


def test_proxy_url_forms_and_secrets() -> None:
    proxy = Proxy.parse("http://svc%40corp:pa%3Ass@proxy.internal:3128")
    assert (proxy.host, proxy.port) == ("proxy.internal", 3128)
    assert proxy.authorization == "Basic c3ZjQGNvcnA6cGE6c3M="  # svc@corp:pa:ss
    assert "c3Zj" not in repr(proxy)
    assert "Basic" not in repr(proxy)
    assert Proxy.parse("proxy.internal:8080") == Proxy("proxy.internal", 8080)
    with pytest.raises(ValueError, match="scheme must be http") as info:
        Proxy.parse("https://user:hunter2@proxy.internal")
    assert "hunter2" not in str(info.value)
    with pytest.raises(ValueError, match="port"):
        Proxy.parse("http://proxy.internal:99999")


def test_a_bad_proxy_in_the_environment_is_a_clear_unsent_error() -> None:
    client = TencentCloudClient(
        Credentials("AKIDx", "y" * 32),
        retry=RetryPolicy(max_attempts=1),
        environ={"HTTPS_PROXY": "socks5://user:hunter2@proxy:1080"},
    )
    with client, pytest.raises(TransportError) as info:
        client.cam.get_user(GetUserRequest("u"))
    assert info.value.possibly_sent is False
    assert "HTTPS_PROXY" in str(info.value)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("no_proxy", "endpoint", "bypassed"),
    [
        ("", Endpoint("https", "cam.tencentcloudapi.com"), False),
        ("*", Endpoint("https", "cam.tencentcloudapi.com"), True),
        ("tencentcloudapi.com", Endpoint("https", "cam.tencentcloudapi.com"), True),
        (".tencentcloudapi.com", Endpoint("https", "sts.tencentcloudapi.com"), True),
        ("other.com, cam.tencentcloudapi.com", Endpoint("https", "cam.tencentcloudapi.com"), True),
        ("apitencentcloudapi.com", Endpoint("https", "cam.tencentcloudapi.com"), False),
        ("cam.tencentcloudapi.com:8443", Endpoint("https", "cam.tencentcloudapi.com"), False),
        ("cam.tencentcloudapi.com:443", Endpoint("https", "cam.tencentcloudapi.com"), True),
        ("10.0.0.0/8", Endpoint("https", "10.1.2.3"), True),
        ("10.0.0.0/8", Endpoint("https", "11.1.2.3"), False),
    ],
)
def test_no_proxy(no_proxy: str, endpoint: Endpoint, bypassed: bool) -> None:
    rules = ProxyRules.from_environment({"https_proxy": "http://p:3128", "no_proxy": no_proxy})
    assert rules.bypasses(endpoint) is bypassed
    assert (rules.proxy_for(endpoint) is None) is bypassed
    # Plain http (loopback emulators) never goes through the proxy.
    assert rules.proxy_for(Endpoint("http", "127.0.0.1", 9400)) is None


# --- a peer that misbehaves -----------------------------------------------------------------


class RawServer:
    """Accepts connections on loopback and answers each request with ``script(n)``, where n
    counts requests over all connections; after the answer the connection stays open unless
    the script's bytes end with ``close``."""

    def __init__(self, script: Callable[[int], tuple[bytes, bool]]) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.script = script
        self.requests = 0
        self.connections = 0
        self.closed = threading.Semaphore(0)  # released each time the server closes one
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        with conn:
            buffered = b""
            while True:
                while b"\r\n\r\n" not in buffered:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffered += chunk
                head, _, rest = buffered.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                while len(rest) < length:
                    rest += conn.recv(65536)
                buffered = rest[length:]
                answer, close = self.script(self.requests)
                self.requests += 1
                conn.sendall(answer)
                if close:
                    conn.close()
                    self.closed.release()
                    return

    def pool(self, clock: Callable[[], float] | None = None) -> ConnectionPool:
        endpoint = Endpoint("http", "127.0.0.1", self.port)
        if clock is None:
            return ConnectionPool(endpoint, context=None)
        return ConnectionPool(endpoint, context=None, clock=clock)

    def close(self) -> None:
        self.sock.close()


def _post(pool: ConnectionPool) -> bytes:
    return pool.post(HEADERS, b"{}", connect_timeout=2, read_timeout=2).body


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    server = RawServer(lambda n: (OK, True))  # answers, then closes: keep-alive not honoured
    try:
        pool = server.pool()
        for _ in range(3):
            assert _post(pool) == b"{}"
            assert server.closed.acquire(timeout=5)  # closed while the client holds it idle
        assert pool.opened == 3
        assert server.requests == 3
    finally:
        server.close()


def test_connections_idle_too_long_are_replaced_and_busy_ones_kept() -> None:
    now = [0.0]
    server = RawServer(lambda n: (OK, False))
    try:
        pool = server.pool(clock=lambda: now[0])
        _post(pool)
        now[0] += IDLE_SECONDS / 2
        _post(pool)
        assert pool.opened == 1
        now[0] += IDLE_SECONDS + 1
        _post(pool)
        assert pool.opened == 2
    finally:
        server.close()


def test_concurrent_callers_each_get_a_connection_and_all_are_kept() -> None:
    server = RawServer(lambda n: (OK, False))
    barrier = threading.Barrier(8)
    try:
        pool = server.pool()

        def caller() -> None:
            barrier.wait()
            for _ in range(10):
                _post(pool)

        threads = [threading.Thread(target=caller) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert server.requests == 80
        assert 1 <= pool.opened <= 8
        assert pool.idle_count() == pool.opened  # none dropped: the next burst reuses them
    finally:
        server.close()


def test_an_answer_longer_than_the_limit_is_not_read() -> None:
    huge = f"HTTP/1.1 200 OK\r\nContent-Length: {MAX_ANSWER_BYTES + 1}\r\n\r\n".encode()
    server = RawServer(lambda n: (huge + b"x" * 1024, True))
    try:
        with pytest.raises(ExchangeError, match="too long"):
            _post(server.pool())
    finally:
        server.close()


def test_a_chunked_answer_without_length_is_bounded_too() -> None:
    chunk = b"%x\r\n%s\r\n" % (1 << 20, b"y" * (1 << 20))
    body = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 5 + b"0\r\n\r\n"
    server = RawServer(lambda n: (body, True))
    try:
        with pytest.raises(ExchangeError, match="too long"):
            _post(server.pool())
    finally:
        server.close()


def test_a_connection_lost_mid_answer_is_possibly_sent() -> None:
    server = RawServer(lambda n: (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{", True))
    endpoint = Endpoint("http", "127.0.0.1", server.port)
    client = TencentCloudClient(
        Credentials("AKIDx", "y" * 32),
        endpoints=EndpointResolver(overrides={"cam": endpoint}),
        retry=RetryPolicy(max_attempts=1),
        environ={},
    )
    try:
        with client, pytest.raises(TransportError) as info:
            client.cam.get_user(GetUserRequest("u"))
        assert info.value.possibly_sent is True
        assert "connection lost" in str(info.value)
    finally:
        server.close()


# --- the same connections from the event loop ---------------------------------------------------


async def _async_post(pool: AsyncConnectionPool, *, read_timeout: float = 2) -> Answer:
    return await pool.post(HEADERS, b"{}", connect_timeout=2, read_timeout=read_timeout)


def _async_pool(server: RawServer) -> AsyncConnectionPool:
    return AsyncConnectionPool(Endpoint("http", "127.0.0.1", server.port), context=None)


def test_calls_from_the_loop_reach_the_api_through_the_proxy_on_one_connection(
    proxied: tuple[RunningEmulator, Path],
) -> None:
    """Signed STS calls awaited on the event loop, through the CONNECT proxy and TLS, by name:
    five calls, one tunnel and one handshake."""
    emu, ca = proxied
    emu.emulator.requests.clear()
    environ = {"HTTPS_PROXY": emu.proxy_url, "SSL_CERT_FILE": str(ca)}

    async def five_calls(client: TencentCloudClient) -> list[str | None]:
        ids = []
        for _ in range(5):
            reply = await client.transport.call_async(
                STS, "GetCallerIdentity", {}, region="ap-guangzhou"
            )
            ids.append(reply.request_id)
        return ids

    with _client(emu, environ) as client:
        ids = asyncio.run(five_calls(client))
        pool = client.transport.async_pool(Endpoint("https", "sts.tencentcloudapi.com"))
        assert pool.proxy is not None
        assert (pool.opened, pool.idle_count()) == (1, 1)
    assert len(set(ids)) == 5
    logged = emu.requests("GetCallerIdentity")
    assert len(logged) == 5
    assert {entry["headers"]["host"] for entry in logged} == {"sts.tencentcloudapi.com"}


def test_from_the_loop_an_untrusted_certificate_is_refused_before_anything_is_sent(
    proxied: tuple[RunningEmulator, Path],
) -> None:
    emu, _ = proxied
    emu.emulator.requests.clear()
    client = _client(emu, {"HTTPS_PROXY": emu.proxy_url})  # certifi's bundle only
    with client, pytest.raises(TransportError) as info:
        asyncio.run(
            client.transport.call_async(STS, "GetCallerIdentity", {}, region="ap-guangzhou")
        )
    assert info.value.possibly_sent is False
    assert "not trusted" in str(info.value)
    assert emu.requests() == []


def test_from_the_loop_closed_idle_connections_are_replaced_and_open_ones_reused() -> None:
    closing = RawServer(lambda n: (OK, True))
    keeping = RawServer(lambda n: (OK, False))

    async def three(pool: AsyncConnectionPool, server: RawServer) -> None:
        for _ in range(3):
            assert (await _async_post(pool)).body == b"{}"
            if server is closing:
                assert await asyncio.to_thread(server.closed.acquire, True, 5)
                await asyncio.sleep(0.05)  # the end of file reaches the loop

    try:
        pool = _async_pool(closing)
        asyncio.run(three(pool, closing))
        assert (pool.opened, closing.requests) == (3, 3)
        pool = _async_pool(keeping)
        asyncio.run(three(pool, keeping))
        assert (pool.opened, pool.idle_count(), keeping.connections) == (1, 1, 1)
        # Another loop cannot use the first one's connections: it opens its own.
        asyncio.run(three(pool, keeping))
        assert (pool.opened, keeping.connections) == (2, 2)
    finally:
        closing.close()
        keeping.close()


def test_from_the_loop_an_answer_many_reads_long_is_read_whole_and_the_next_one_apart() -> None:
    """Each read lands in the connection's one buffer: an answer several times its size comes
    whole, byte for byte, and the answer after it on the same connection is its own."""
    bodies = [bytes(range(256)) * (3 * READ_SIZE // 256) + b"tail", b'{"second": true}']

    def script(n: int) -> tuple[bytes, bool]:
        body = bodies[n]
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body, False

    server = RawServer(script)

    async def two(pool: AsyncConnectionPool) -> list[Answer]:
        return [await _async_post(pool), await _async_post(pool)]

    try:
        pool = _async_pool(server)
        answers = asyncio.run(two(pool))
        assert [a.body for a in answers] == bodies
        assert (pool.opened, server.connections) == (1, 1)
    finally:
        server.close()


def test_from_the_loop_answers_are_bounded_and_lost_ones_are_errors() -> None:
    huge = f"HTTP/1.1 200 OK\r\nContent-Length: {MAX_ANSWER_BYTES + 1}\r\n\r\n".encode()
    servers = {
        "too long": RawServer(lambda n: (huge + b"x" * 1024, True)),
        "mid-answer": RawServer(lambda n: (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{", True)),
        "not HTTP/1.1": RawServer(lambda n: (b"SSH-2.0-OpenSSH\r\n\r\n", True)),
    }
    try:
        for message, server in servers.items():
            pool = _async_pool(server)
            with pytest.raises(ExchangeError, match=message):
                asyncio.run(_async_post(pool))
            assert pool.idle_count() == 0
    finally:
        for server in servers.values():
            server.close()


def test_a_call_cancelled_or_timed_out_on_the_loop_closes_its_connection() -> None:
    """The answer may still come: the connection it would arrive on is never reused."""
    answer = threading.Event()

    def script(n: int) -> tuple[bytes, bool]:
        if n < 2:
            answer.wait(10)
        return OK, False

    server = RawServer(script)

    async def scenario(pool: AsyncConnectionPool) -> None:
        with pytest.raises(ExchangeError, match="no answer"):
            await _async_post(pool, read_timeout=0.2)
        call = asyncio.create_task(_async_post(pool))
        await asyncio.sleep(0.2)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert pool.idle_count() == 0
        answer.set()
        assert (await _async_post(pool)).body == b"{}"

    try:
        pool = _async_pool(server)
        asyncio.run(scenario(pool))
        assert (pool.opened, server.connections) == (3, 3)
    finally:
        answer.set()
        server.close()


def test_calls_from_the_loop_are_retried_like_blocking_ones() -> None:
    """A throttled answer, then a success: the same attempts and backoff as ``call``."""
    throttled = json.dumps(
        {
            "Response": {
                "Error": {"Code": "RequestLimitExceeded", "Message": "slow"},
                "RequestId": "r-1",
            }
        }
    ).encode()
    ok = json.dumps({"Response": {"RequestId": "r-2"}}).encode()

    def script(n: int) -> tuple[bytes, bool]:
        body = throttled if n == 0 else ok
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body), False

    server = RawServer(script)
    endpoint = Endpoint("http", "127.0.0.1", server.port)
    client = TencentCloudClient(
        Credentials("AKIDx", "y" * 32),
        endpoints=EndpointResolver(overrides={"sts": endpoint}),
        retry=RetryPolicy(max_attempts=2, base_delay=0.01),
        environ={},
    )
    try:
        with client:
            reply = asyncio.run(
                client.transport.call_async(STS, "GetCallerIdentity", {}, region="ap-guangzhou")
            )
        assert reply.request_id == "r-2"
        assert server.requests == 2
    finally:
        server.close()


def test_calls_from_the_loop_beyond_the_bound_wait_for_a_connection() -> None:
    """A burst larger than the pool's bound shares its connections instead of opening one per
    call; a call that cannot get one within its connect timeout fails unsent."""
    release = threading.Event()

    def script(n: int) -> tuple[bytes, bool]:
        if n == 0:
            release.wait(10)
        return OK, False

    server = RawServer(script)

    async def burst(pool: AsyncConnectionPool) -> None:
        first = asyncio.create_task(_async_post(pool))
        await asyncio.sleep(0.1)
        with pytest.raises(ConnectError, match="came free"):
            await pool.post(HEADERS, b"{}", connect_timeout=0.2, read_timeout=2)
        waiting = [asyncio.create_task(_async_post(pool)) for _ in range(4)]
        await asyncio.sleep(0.1)
        assert not any(task.done() for task in waiting)
        release.set()
        answers = await asyncio.gather(first, *waiting)
        assert {answer.body for answer in answers} == {b"{}"}

    try:
        pool = AsyncConnectionPool(
            Endpoint("http", "127.0.0.1", server.port), context=None, max_open=1
        )
        asyncio.run(burst(pool))
        assert (server.connections, server.requests) == (1, 5)
    finally:
        release.set()
        server.close()


def test_the_ca_bundle_is_loaded_off_the_loop(
    proxied: tuple[RunningEmulator, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first call to an https endpoint reads the CA bundle from disk: on a thread, so the
    loop (every mount's requests) never waits for the file system."""
    emu, ca = proxied
    loaded_on: list[int] = []
    load = trust_context

    def recording(environ: Mapping[str, str] | None = None) -> ssl.SSLContext:
        loaded_on.append(threading.get_ident())
        return load(environ)

    monkeypatch.setattr(transport_module, "trust_context", recording)

    async def call(client: TencentCloudClient) -> int:
        await client.transport.call_async(STS, "GetCallerIdentity", {}, region="ap-guangzhou")
        return threading.get_ident()

    environ = {"HTTPS_PROXY": emu.proxy_url, "SSL_CERT_FILE": str(ca)}
    with _client(emu, environ) as client:
        loop_thread = asyncio.run(call(client))
    assert len(loaded_on) == 1
    assert loaded_on[0] != loop_thread
