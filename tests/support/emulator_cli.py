"""The emulator's command line run as a user runs it (``python -m tencentcloud_emulator``): started
on a free port, its announced address read from the line scripts wait for, and stopped with a
signal when the block ends.

Imports only the standard library, so that the emulator's own tests can use it: the emulator
runs in a child process, by its module name.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import IO

LINE_TIMEOUT = 30.0
"""How long one line of output is awaited: a silent child is a failure, not a hang."""

_LISTENING = re.compile(r"listening on (http://(\S+))")


class _Lines:
    """A child's output stream, read by a thread of its own so that every wait is bounded."""

    def __init__(self, stream: IO[str]) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def next(self) -> str | None:
        """The next line, or None once the stream has ended."""
        try:
            return self._queue.get(timeout=LINE_TIMEOUT)
        except queue.Empty:
            raise AssertionError(
                f"no output from the emulator within {LINE_TIMEOUT:.0f} s"
            ) from None

    def rest(self, timeout: float) -> str:
        """Everything left once the stream has ended (the child has exited)."""
        self._thread.join(timeout)
        left: list[str] = []
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return "".join(left)
            if line is not None:
                left.append(line)


class EmulatorProcess:
    """A started command-line emulator.

    ``listening_line`` is the first line of its standard output (``tencentcloud-emulator
    listening on URL``), ``endpoint`` that URL (``http://HOST:PORT``) and ``host_port`` its
    ``HOST:PORT`` (what the SDKs' ``HttpProfile(endpoint=...)`` takes); ``next_line`` reads
    the rest of the output; ``stderr`` is what it wrote there, complete once it was stopped.
    """

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        assert process.stderr is not None
        self.process = process
        self._stdout = _Lines(process.stdout)
        self._stderr = _Lines(process.stderr)
        self.stderr = ""
        self.listening_line = self.next_line()
        found = _LISTENING.search(self.listening_line)
        if found is None:
            raise AssertionError(f"no address announced: {self.listening_line!r}")
        self.endpoint = found.group(1)
        self.host_port = found.group(2)

    def next_line(self) -> str:
        """The next line of standard output, awaited for at most ``LINE_TIMEOUT`` seconds."""
        line = self._stdout.next()
        if line is None:
            raise AssertionError(f"the emulator's output ended; stderr: {self._stderr.rest(10)}")
        return line

    def line_matching(self, pattern: str) -> re.Match[str]:
        """The first further line of standard output in which ``pattern`` is found."""
        while True:
            found = re.search(pattern, self.next_line())
            if found is not None:
                return found

    def stop(self, how: signal.Signals = signal.SIGTERM) -> int:
        """Send ``how`` unless the child has exited already; its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(how)
        status = self.process.wait(timeout=10)
        self.stderr += self._stderr.rest(10)
        return status


@contextlib.contextmanager
def emulator_process(
    *args: str, stop_with: signal.Signals = signal.SIGTERM
) -> Iterator[EmulatorProcess]:
    """``tencentcloud-emulator --port 0 ARGS`` for the duration of the block, once it has said
    where it listens; stopped with ``stop_with`` at the end unless the block stopped it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tencentcloud_emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        running = EmulatorProcess(process)
    except BaseException:
        process.kill()
        process.wait(timeout=10)
        raise
    try:
        yield running
    finally:
        running.stop(stop_with)
