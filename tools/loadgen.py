"""A small closed-loop HTTP load generator for the benchmark, and the statistics it reports.

Each client is a thread with one keep-alive ``http.client`` connection: the cheapest client
the standard library has, because on a two-core machine every microsecond the driver spends
is taken from Vault and the plugin it measures. The driver's cost is the same for every
target, so comparisons between targets stay fair even where absolute figures do not.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit


@dataclasses.dataclass(frozen=True)
class Call:
    """One HTTP request to Vault."""

    method: str
    path: str
    body: dict[str, Any] | None = None


@dataclasses.dataclass
class Outcome:
    """What a run measured: latency of each successful request, errors, elapsed time."""

    latencies_ms: list[float] = dataclasses.field(default_factory=list)
    errors: int = 0
    elapsed_s: float = 0.0
    answers: list[Any] = dataclasses.field(default_factory=list)
    first_error: str = ""

    def merge(self, other: Outcome) -> None:
        self.latencies_ms += other.latencies_ms
        self.errors += other.errors
        self.elapsed_s += other.elapsed_s
        self.answers += other.answers
        self.first_error = self.first_error or other.first_error

    @property
    def rate(self) -> float:
        done = len(self.latencies_ms)
        return done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def stats(self) -> dict[str, float]:
        out = percentiles(self.latencies_ms)
        out["req_per_s"] = round(self.rate, 1)
        out["errors"] = self.errors
        return out


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "n": len(ordered)}


class VaultHTTP:
    """One keep-alive connection to Vault's HTTP API with a token."""

    def __init__(self, addr: str, token: str, timeout: float = 120.0) -> None:
        parts = urlsplit(addr)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 8200
        self._timeout = timeout
        self._headers = {"X-Vault-Token": token, "Content-Type": "application/json"}
        self._conn: http.client.HTTPConnection | None = None

    def request(self, call: Call) -> tuple[int, bytes]:
        body = None if call.body is None else json.dumps(call.body).encode()
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(
                    self._host, self._port, timeout=self._timeout
                )
            try:
                self._conn.request(call.method, "/v1/" + call.path, body, self._headers)
                answer = self._conn.getresponse()
                return answer.status, answer.read()
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def json(self, call: Call) -> Any:
        status, body = self.request(call)
        if status >= 400:
            raise RuntimeError(f"{call.method} {call.path}: HTTP {status}: {body[:300]!r}")
        return json.loads(body) if body else None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def run(
    addr: str,
    token: str,
    calls: Callable[[int, int], Call | None],
    *,
    clients: int,
    duration: float | None = None,
    keep: Callable[[bytes], Any] | None = None,
) -> Outcome:
    """Run ``clients`` closed-loop clients. ``calls(client, n)`` gives client's n-th request,
    or None when that client is done; with ``duration`` clients also stop after that many
    seconds. ``keep`` extracts something from each successful answer into ``answers``."""
    outcomes = [Outcome() for _ in range(clients)]
    start_line = threading.Barrier(clients + 1)
    stop_at: list[float] = [0.0]

    def client(index: int) -> None:
        vault = VaultHTTP(addr, token)
        mine = outcomes[index]
        start_line.wait()
        n = 0
        try:
            while duration is None or time.perf_counter() < stop_at[0]:
                call = calls(index, n)
                if call is None:
                    break
                n += 1
                begin = time.perf_counter()
                try:
                    status, body = vault.request(call)
                except OSError as exc:
                    mine.errors += 1
                    mine.first_error = mine.first_error or repr(exc)
                    continue
                took = (time.perf_counter() - begin) * 1000
                if status >= 400:
                    mine.errors += 1
                    mine.first_error = mine.first_error or f"HTTP {status}: {body[:200]!r}"
                    continue
                mine.latencies_ms.append(took)
                if keep is not None:
                    mine.answers.append(keep(body))
        finally:
            vault.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    begin = time.perf_counter()
    stop_at[0] = begin + (duration or 0.0)
    start_line.wait()
    for thread in threads:
        thread.join()
    total = Outcome(elapsed_s=time.perf_counter() - begin)
    for outcome in outcomes:
        total.latencies_ms += outcome.latencies_ms
        total.errors += outcome.errors
        total.answers += outcome.answers
        total.first_error = total.first_error or outcome.first_error
    return total


def run_hey(
    hey: str, addr: str, token: str, path: str, *, clients: int, duration: float
) -> Outcome:
    """GET ``path`` with ``hey`` (a Go load generator) instead of Python threads.

    A compiled driver takes a fraction of the CPU Python clients do on the cores Vault and
    the plugins share, so figures at 8 and 32 clients are closer to what Vault can serve.
    """
    command = [
        hey,
        "-z",
        f"{duration}s",
        "-c",
        str(clients),
        "-H",
        f"X-Vault-Token: {token}",
        "-o",
        "csv",
        f"{addr}/v1/{path}",
    ]
    begin = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    outcome = Outcome(elapsed_s=time.perf_counter() - begin)
    for line in done.stdout.splitlines()[1:]:
        fields = line.split(",")
        if len(fields) < 7:
            continue
        if fields[6] == "200":
            outcome.latencies_ms.append(float(fields[0]) * 1000)
        else:
            outcome.errors += 1
            outcome.first_error = outcome.first_error or f"HTTP {fields[6]}"
    return outcome
