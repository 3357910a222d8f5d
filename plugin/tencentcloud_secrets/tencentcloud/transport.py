"""One signed API 3.0 call over HTTP: build, send, parse the envelope, retry.

Retries cover throttling and transport failures only, with exponential backoff and full
jitter, bounded by the attempt limit and by the caller's deadline; every attempt is signed
again with a fresh timestamp. A failure after the request may have reached the server is
retried only when the caller says the action is safe to repeat (``retry_sent``); creates
reconcile instead (see ``reconcile.py``).

Never logs or raises headers, bodies, keys, tokens or signatures: log lines carry the
action, host, attempt, error code and RequestId, and error messages are scrubbed of every
secret the call knew about.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import random
import ssl
import threading
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from .async_connections import AsyncConnectionPool
from .connections import (
    Answer,
    ConnectError,
    ConnectionPool,
    ExchangeError,
    Proxy,
    ProxyRules,
    trust_context,
)
from .credentials import CredentialChain, Credentials
from .deadline import Deadline, DeadlineLike, as_deadline
from .endpoints import Endpoint, EndpointResolver
from .errors import (
    ApiError,
    CallCancelledError,
    NotFoundError,
    TencentCloudError,
    ThrottledError,
    TransportError,
    api_error,
)
from .pacing import Pacer
from .signer import sign

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/json"
REDACTED = "<redacted>"
# Request parameters whose values are secrets in their own right.
SENSITIVE_PARAMS = frozenset({"Password", "WebIdentityToken", "TokenCode", "SecretKey"})


@dataclasses.dataclass(frozen=True)
class Service:
    """A product as the signer sees it: the credential-scope name and the API version."""

    name: str
    version: str


CAM = Service("cam", "2019-01-16")
STS = Service("sts", "2018-08-13")


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 0.25
    max_delay: float = 8.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: concurrent callers spread out instead of retrying in lockstep."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return rng.uniform(0.0, ceiling)


@dataclasses.dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0


class CredentialSource(Protocol):
    def require(self) -> Credentials: ...


@dataclasses.dataclass(frozen=True)
class PreparedCall:
    url: str
    headers: Mapping[str, str] = dataclasses.field(repr=False)
    body: bytes = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class Reply:
    """The ``Response`` object of a successful call."""

    action: str
    data: Mapping[str, Any] = dataclasses.field(repr=False)
    request_id: str | None
    # True when a delete found its target already gone after an attempt whose answer was lost.
    settled_by_absence: bool = False


@dataclasses.dataclass(frozen=True)
class _Send:
    """An attempt, ready to go: what the driver of ``Transport._steps`` sends."""

    endpoint: Endpoint
    headers: Mapping[str, str] = dataclasses.field(repr=False)
    body: bytes = dataclasses.field(repr=False)
    connect_timeout: float
    read_timeout: float


@dataclasses.dataclass(frozen=True)
class _Pause:
    """A wait before the next attempt: a backoff, or the pacer's slot (``pacing``)."""

    seconds: float
    pacing: bool = False


_Step = _Send | _Pause


def _advance(
    steps: Generator[_Step, Answer | None, Reply], answer: Answer | None, failure: Exception | None
) -> _Step | Reply:
    """The next step of a call, given the last one's answer or failure; the reply at the end."""
    try:
        return steps.send(answer) if failure is None else steps.throw(failure)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


def _known(credentials: Credentials | None) -> Credentials:
    assert credentials is not None
    return credentials


def encode_body(params: Mapping[str, Any]) -> bytes:
    # Default separators and ASCII escapes, byte for byte what the official SDKs send.
    return json.dumps(params).encode("utf-8")


def build_request(
    *,
    endpoint: Endpoint,
    service: Service,
    action: str,
    params: Mapping[str, Any],
    credentials: Credentials | None,
    timestamp: int,
    region: str | None = None,
    language: str | None = None,
) -> PreparedCall:
    """Headers and body of one attempt; ``credentials=None`` sends ``Authorization: SKIP``."""
    body = encode_body(params)
    host = endpoint.host_header
    headers = {
        "Host": host,
        "Content-Type": CONTENT_TYPE,
        "X-TC-Action": action,
        "X-TC-Version": service.version,
        "X-TC-Timestamp": str(timestamp),
    }
    if region:
        headers["X-TC-Region"] = region
    if language:
        headers["X-TC-Language"] = language
    if credentials is None:
        headers["Authorization"] = "SKIP"
    else:
        if credentials.token:
            headers["X-TC-Token"] = credentials.token
        headers["Authorization"] = sign(
            secret_id=credentials.secret_id,
            secret_key=credentials.secret_key,
            service=service.name,
            host=host,
            timestamp=timestamp,
            payload=body,
            content_type=CONTENT_TYPE,
            action=action,
        ).authorization
    return PreparedCall(endpoint.url, headers, body)


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def _secrets_of(
    params: Mapping[str, Any], credentials: Credentials | None, prepared: PreparedCall | None
) -> list[str]:
    found = [str(v) for k, v in params.items() if k in SENSITIVE_PARAMS and v]
    if credentials is not None:
        found.append(credentials.secret_key)
        if credentials.token:
            found.append(credentials.token)
    if prepared is not None:
        auth = prepared.headers.get("Authorization", "")
        if "Signature=" in auth:
            found.append(auth.rsplit("Signature=", 1)[1])
    return found


def _retryable_status(status: int | None) -> bool:
    return status is None or status == 429 or status >= 500


class Transport:
    """Pooled keep-alive connections per endpoint plus the retry loop; thread-safe.

    The proxy and the CA bundle come from ``environ`` (the process's environment when None),
    read once, when the first connection pool is made (see ``connections``)."""

    def __init__(
        self,
        credentials: CredentialSource,
        *,
        resolver: EndpointResolver | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        language: str | None = None,
        pacer: Pacer | None = None,
        environ: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.credentials = credentials
        self.resolver = resolver or EndpointResolver()
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self._language = language
        self.pacer = pacer or Pacer()
        self._environ = environ
        self._sleep = sleep
        self._clock = clock
        self._now = now
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._pools: dict[Endpoint, ConnectionPool] = {}
        self._async_pools: dict[Endpoint, AsyncConnectionPool] = {}
        self._proxies: ProxyRules | None = None
        self._context: ssl.SSLContext | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
            waiting, self._async_pools = list(self._async_pools.values()), {}
        for pool in pools:
            pool.close()
        for async_pool in waiting:
            async_pool.close()

    def pool(self, endpoint: Endpoint) -> ConnectionPool:
        """The endpoint's connections for blocking calls, made on first use."""
        pool = self._pools.get(endpoint)
        if pool is None:
            context, proxy = self._reach(endpoint)
            with self._lock:
                pool = self._pools.get(endpoint)
                if pool is None:
                    pool = ConnectionPool(endpoint, context=context, proxy=proxy, clock=self._clock)
                    self._pools[endpoint] = pool
        return pool

    def async_pool(self, endpoint: Endpoint) -> AsyncConnectionPool:
        """The endpoint's connections for calls from the event loop, made on first use."""
        pool = self._async_pools.get(endpoint)
        if pool is None:
            context, proxy = self._reach(endpoint)
            with self._lock:
                pool = self._async_pools.get(endpoint)
                if pool is None:
                    pool = AsyncConnectionPool(
                        endpoint, context=context, proxy=proxy, clock=self._clock
                    )
                    self._async_pools[endpoint] = pool
        return pool

    def _reach(self, endpoint: Endpoint) -> tuple[ssl.SSLContext | None, Proxy | None]:
        """How ``endpoint`` is reached: the TLS context (made with the first https endpoint:
        loading the CA bundle takes milliseconds) and the proxy, if any. A proxy URL in the
        environment that cannot be used is a ``ConnectError``: nothing was sent."""
        with self._lock:
            environ = os.environ if self._environ is None else self._environ
            if self._proxies is None:
                try:
                    self._proxies = ProxyRules.from_environment(environ)
                except ValueError as exc:
                    raise ConnectError(f"HTTPS_PROXY: {exc}") from None
            if self._context is None and endpoint.scheme == "https":
                self._context = trust_context(environ)
            return self._context, self._proxies.proxy_for(endpoint)

    def backoff(self, attempt: int, deadline: DeadlineLike, last: TencentCloudError) -> None:
        """Sleep before attempt ``attempt + 1``, or raise ``last`` when out of attempts or time."""
        self._sleep(self._backoff_delay(attempt, deadline, last))

    def _backoff_delay(
        self, attempt: int, deadline: DeadlineLike, last: TencentCloudError
    ) -> float:
        if attempt >= self.retry.max_attempts:
            raise last
        delay = self.retry.delay(attempt, self._rng)
        at = as_deadline(deadline).at
        if at is not None and self._clock() + delay >= at:
            raise last
        log.info("%s: %s on attempt %d, retrying in %.2fs", last.action, last.code, attempt, delay)
        return delay

    def call(
        self,
        service: Service,
        action: str,
        params: Mapping[str, Any],
        *,
        region: str | None = None,
        deadline: DeadlineLike = None,
        signed: bool = True,
        retry_sent: bool = True,
        gone_is_done: bool = False,
    ) -> Reply:
        """Run one action to completion, blocking the calling thread.

        ``deadline`` is a ``time.monotonic()`` instant or a ``Deadline``, whose cancellation
        is checked before every attempt (``CallCancelledError``). ``retry_sent=False`` raises a
        possibly-sent ``TransportError`` at once so the caller can reconcile. With
        ``gone_is_done``, a not-found answer after a lost answer means the delete ran.
        """
        steps = self._steps(
            service,
            action,
            params,
            self.resolver.resolve(service.name, region),
            region,
            deadline,
            signed,
            retry_sent,
            gone_is_done,
            self.credentials.require,
        )
        answer: Answer | None = None
        failure: Exception | None = None
        while True:
            step = _advance(steps, answer, failure)
            if isinstance(step, Reply):
                return step
            answer = failure = None
            if isinstance(step, _Pause):
                (self.pacer.pause if step.pacing else self._sleep)(step.seconds)
                continue
            try:
                answer = self.pool(step.endpoint).post(
                    step.headers,
                    step.body,
                    connect_timeout=step.connect_timeout,
                    read_timeout=step.read_timeout,
                )
            except (ConnectError, ExchangeError) as exc:
                failure = exc

    async def call_async(
        self,
        service: Service,
        action: str,
        params: Mapping[str, Any],
        *,
        region: str | None = None,
        deadline: DeadlineLike = None,
        signed: bool = True,
        retry_sent: bool = True,
        gone_is_done: bool = False,
    ) -> Reply:
        """``call`` from a coroutine: the same attempts, retries and errors, with no thread
        waiting while the answer is on its way. Cancelled, the attempt in flight is
        abandoned and its connection closed."""
        credentials = await self._credentials_now() if signed else None
        endpoint = self.resolver.resolve(service.name, region)
        if endpoint not in self._async_pools:
            # The first call to an endpoint reads the environment and may load the CA bundle
            # (milliseconds of file I/O): on a thread, not on the loop. A failure here comes
            # back, worded, from the first attempt.
            with contextlib.suppress(ConnectError):
                await asyncio.to_thread(self.async_pool, endpoint)
        steps = self._steps(
            service,
            action,
            params,
            endpoint,
            region,
            deadline,
            signed,
            retry_sent,
            gone_is_done,
            lambda: _known(credentials),
        )
        answer: Answer | None = None
        failure: Exception | None = None
        while True:
            step = _advance(steps, answer, failure)
            if isinstance(step, Reply):
                return step
            answer = failure = None
            if isinstance(step, _Pause):
                await asyncio.sleep(step.seconds)
                continue
            try:
                answer = await self.async_pool(step.endpoint).post(
                    step.headers,
                    step.body,
                    connect_timeout=step.connect_timeout,
                    read_timeout=step.read_timeout,
                )
            except (ConnectError, ExchangeError) as exc:
                failure = exc

    async def _credentials_now(self) -> Credentials:
        """The signing credentials; a source that must ask the network first (the instance
        metadata, once per refresh) is asked on a thread, not on the event loop."""
        source = self.credentials
        if isinstance(source, CredentialChain):
            known = source.peek()
            if known is not None:
                return known
        return await asyncio.to_thread(source.require)

    def _steps(
        self,
        service: Service,
        action: str,
        params: Mapping[str, Any],
        endpoint: Endpoint,
        region: str | None,
        deadline: DeadlineLike,
        signed: bool,
        retry_sent: bool,
        gone_is_done: bool,
        credentials: Callable[[], Credentials],
    ) -> Generator[_Step, Answer | None, Reply]:
        """The attempts of one call and the pauses between them, apart from any I/O: it
        yields what to send (and is resumed with the answer, or has the connection's
        failure thrown in) or how long to wait, and returns the reply."""
        limit = as_deadline(deadline)
        attempt = 0
        uncertain = False
        while True:
            attempt += 1
            wait = self.pacer.reserve(service.name, action, limit.at)
            if wait:
                yield _Pause(wait, pacing=True)
            try:
                return (
                    yield from self._attempt(
                        endpoint,
                        service,
                        action,
                        params,
                        region,
                        limit,
                        signed,
                        attempt,
                        credentials,
                    )
                )
            except CallCancelledError:
                raise
            except ThrottledError as exc:
                self.pacer.throttled(action)
                last: TencentCloudError = exc
            except NotFoundError as exc:
                if gone_is_done and uncertain:
                    log.info("%s: target gone after a lost answer; treating as done", action)
                    return Reply(action, {}, exc.request_id, settled_by_absence=True)
                raise
            except TransportError as exc:
                if exc.possibly_sent and not retry_sent:
                    raise
                if not _retryable_status(exc.status):
                    raise
                uncertain = uncertain or exc.possibly_sent
                last = exc
            yield _Pause(self._backoff_delay(attempt, deadline, last))

    def _attempt(
        self,
        endpoint: Endpoint,
        service: Service,
        action: str,
        params: Mapping[str, Any],
        region: str | None,
        deadline: Deadline,
        signed: bool,
        attempt: int,
        credentials_of: Callable[[], Credentials],
    ) -> Generator[_Step, Answer | None, Reply]:
        if deadline.cancelled():
            # Checked last before sending: the caller has gone, so this call would create
            # something nobody receives.
            raise CallCancelledError(action)
        read_timeout = self.timeouts.read
        connect_timeout = self.timeouts.connect
        if deadline.at is not None:
            remaining = deadline.at - self._clock()
            if remaining <= 0:
                raise TransportError(
                    "ClientError.DeadlineExceeded",
                    "deadline passed before the request was sent",
                    possibly_sent=False,
                    action=action,
                )
            read_timeout = min(read_timeout, remaining)
            connect_timeout = min(connect_timeout, remaining)
        credentials = credentials_of() if signed else None
        prepared = build_request(
            endpoint=endpoint,
            service=service,
            action=action,
            params=params,
            credentials=credentials,
            timestamp=int(self._now()),
            region=region,
            language=self._language,
        )
        secrets = _secrets_of(params, credentials, prepared)
        log.debug("%s -> %s (attempt %d)", action, endpoint.host_header, attempt)
        try:
            answer = yield _Send(
                endpoint, prepared.headers, prepared.body, connect_timeout, read_timeout
            )
        except ConnectError as exc:
            code = "ClientNetworkError"
            raise TransportError(code, str(exc), possibly_sent=False, action=action) from None
        except ExchangeError as exc:
            raise TransportError(
                "ClientNetworkError", str(exc), possibly_sent=True, action=action
            ) from None
        assert answer is not None
        return self._parse(answer, endpoint, action, secrets)

    @staticmethod
    def _parse(answer: Answer, endpoint: Endpoint, action: str, secrets: list[str]) -> Reply:
        if answer.status != 200:
            raise TransportError(
                "ServerNetworkError",
                f"HTTP {answer.status} from {endpoint.url}",
                possibly_sent=True,
                action=action,
                status=answer.status,
            )
        try:
            inner = json.loads(answer.body)["Response"]
            if not isinstance(inner, dict):
                raise TypeError("Response is not an object")
        except (ValueError, KeyError, TypeError):
            raise TransportError(
                "ClientParseError",
                "answer is not an API 3.0 JSON envelope",
                possibly_sent=True,
                action=action,
            ) from None
        request_id = inner.get("RequestId")
        request_id = str(request_id) if request_id else None
        error = inner.get("Error")
        if error is not None:
            if not isinstance(error, dict):
                error = {"Code": "InternalError", "Message": "malformed error envelope"}
            code = str(error.get("Code") or "InternalError")
            message = scrub(str(error.get("Message") or ""), secrets)
            err: ApiError = api_error(code, message, request_id, action)
            log.debug("%s <- %s (RequestId %s)", action, code, request_id)
            raise err
        log.debug("%s <- ok (RequestId %s)", action, request_id)
        return Reply(action, inner, request_id)


T = TypeVar("T")


def decode(reply: Reply, fn: Callable[[Mapping[str, Any]], T]) -> T:
    """Turn a success answer into a model; a missing or mistyped field is a parse failure."""
    try:
        return fn(reply.data)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise TransportError(
            "ClientParseError",
            f"unexpected {reply.action} answer ({type(exc).__name__})",
            possibly_sent=True,
            action=reply.action,
        ) from None
