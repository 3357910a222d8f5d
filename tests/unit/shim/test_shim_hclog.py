"""hclog JSON lines: the exact timestamp layout and a string @message, always."""

from __future__ import annotations

import io
import json
import logging
import re

from hypothesis import given
from hypothesis import strategies as st

from tencentcloud_secrets_shim import hclog

GO_LAYOUT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def _emit(level: int, msg: object, *args: object, **extra: object) -> dict[str, object]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(hclog.HclogFormatter())
    logger = logging.getLogger(f"test.hclog.{id(stream)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(1)
    logger.log(level, msg, *args, extra=extra or None)
    line = stream.getvalue()
    assert line.count("\n") == 1
    parsed = json.loads(line)
    assert isinstance(parsed, dict)
    return parsed


def test_levels_and_timestamp_layout() -> None:
    for level, name in [
        (logging.DEBUG, "debug"),
        (logging.INFO, "info"),
        (logging.WARNING, "warn"),
        (logging.ERROR, "error"),
        (logging.CRITICAL, "error"),
        (hclog.TRACE, "trace"),
    ]:
        line = _emit(level, "hello")
        assert line["@level"] == name
        assert GO_LAYOUT.match(str(line["@timestamp"]))


@given(
    st.one_of(
        st.integers(),
        st.none(),
        st.lists(st.integers()),
        st.dictionaries(st.text(), st.integers()),
        st.text(),
    )
)
def test_message_is_always_a_string(message: object) -> None:
    line = _emit(logging.INFO, message)
    assert isinstance(line["@message"], str)


def test_bad_format_arguments_do_not_lose_the_line() -> None:
    line = _emit(logging.INFO, "%d items", "not a number")
    assert line["@message"] == "%d items"


def test_extra_fields_become_strings_or_scalars() -> None:
    line = _emit(logging.INFO, "x", path="roles/a", count=3, ok=True, obj=object())
    assert line["path"] == "roles/a"
    assert line["count"] == 3
    assert line["ok"] is True
    assert isinstance(line["obj"], str)


def test_errors_carry_type_and_message_but_no_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(hclog.HclogFormatter())
        logger = logging.getLogger("test.hclog.exc")
        logger.handlers[:] = [handler]
        logger.propagate = False
        logger.exception("failed")
    line = json.loads(stream.getvalue())
    assert line["error"] == "ValueError: boom"
    assert "Traceback" not in stream.getvalue()


def test_line_handler_keeps_lines_whole_across_threads() -> None:
    """Eight threads log at once into a pipe, as the plugin's workers do into go-plugin's
    stderr reader: every line arrives whole, short ones and ones longer than PIPE_BUF."""
    import os
    import select
    import threading

    read_end, write_end = os.pipe()
    handler = hclog.LineHandler(write_end)
    handler.setFormatter(hclog.HclogFormatter())
    logger = logging.getLogger("test.hclog.lines")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    chunks: list[bytes] = []
    reader = threading.Thread(
        target=lambda: chunks.extend(iter(lambda: os.read(read_end, 65536), b""))
    )
    reader.start()
    long_text = "x" * (2 * select.PIPE_BUF)

    def worker(n: int) -> None:
        for i in range(200):
            logger.info("line %d %d %s", n, i, long_text if i % 10 == 0 else "")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    os.close(write_end)
    reader.join()
    os.close(read_end)
    lines = b"".join(chunks).decode().splitlines()
    messages = [json.loads(line)["@message"] for line in lines]
    assert sorted(m.split()[1:3] for m in messages) == sorted(
        [str(n), str(i)] for n in range(8) for i in range(200)
    )
    assert sum(m.endswith(long_text) for m in messages) == 8 * 20
