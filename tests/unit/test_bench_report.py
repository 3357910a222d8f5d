"""tools/bench.py's pure parts: the stand-in's ready line, per-lease figures, ratios and the
tables of scenario s. No process is started and nothing is timed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tools.bench import StubPorts, markdown, parse_ready_line, per_lease_ms, ratios


def test_the_ready_line_gives_ports_and_the_ca_file() -> None:
    line = b'{"proxy_port":4101,"https_port":null,"admin_port":4102,"ca_file":"/tmp/ca.pem"}\n'
    assert parse_ready_line(line) == StubPorts(4101, 4102, Path("/tmp/ca.pem"), None)
    with_https = b'{"proxy_port":1,"https_port":3,"admin_port":2,"ca_file":"c"}'
    assert parse_ready_line(with_https).https_port == 3


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"panic: runtime error\n",
        b"[]",
        b'{"proxy_port":1,"ca_file":"c"}',
        b'{"proxy_port":"x"}',
    ],
)
def test_anything_else_means_the_stand_in_did_not_start(line: bytes) -> None:
    with pytest.raises(RuntimeError, match="did not start"):
        parse_ready_line(line)


def test_cpu_per_lease_is_milliseconds_and_none_without_leases() -> None:
    assert per_lease_ms({"plugin": 0.5, "vault": 0.25}, 100) == {"plugin": 5.0, "vault": 2.5}
    assert per_lease_ms({"plugin": 0.5}, 0) == {"plugin": None}


def test_ratios_need_both_figures() -> None:
    ours = {"req_per_s": 300.0, "p50": 60.0}
    theirs = {"req_per_s": 600.0, "p50": 0}
    assert ratios(ours, theirs, ("req_per_s", "p50", "p95")) == {
        "req_per_s": 0.5,
        "p50": None,
        "p95": None,
    }


def _sts_entry(req_per_s: float, p50: float) -> dict[str, Any]:
    return {
        "p50": p50,
        "p95": p50 * 2,
        "req_per_s": req_per_s,
        "errors": 0,
        "leases": 10,
        "cpu_ms_per_lease": {"plugin": 2.0, "stub": 0.3, "vault": 0.5},
        "tunnels_per_100_leases": 10.0,
        "revoke_s": 0.1,
    }


def test_scenario_s_tables_have_a_row_per_target_and_ratios_on_ours() -> None:
    level = {
        "python": _sts_entry(400.0, 120.0),
        "baseline": _sts_entry(800.0, 60.0),
        "python_over_baseline": {"req_per_s": 0.5, "p50": 2.0},
        "stub_cpu_pct": 20.0,
        "machine_busy_pct": 80.0,
    }
    cam = {
        "leases": 20,
        "issue_ms": {"p50": 120.0, "p95": 190.0, "req_per_s": 47.0},
        "revoke_ms": {"p50": 60.0, "p95": 70.0, "req_per_s": 100.0},
        "errors": 0,
        "api_calls_per_lease": 3.0,
        "api_calls_by_action": {"AddUser": 1.0, "AddUserToGroup": 1.0, "DeleteUser": 1.0},
        "cpu_ms_per_lease": {"plugin_issue": 5.5, "plugin_revoke": 2.5, "stub": 1.0, "vault": 3.5},
        "tunnels_per_100_leases": 35.0,
        "users_left": 0,
    }
    report = {
        "machine": {"date": "today", "cpus": 2, "cpu": "x", "python": "3.11"},
        "mode": "quick",
        "tls_driver": "hey",
        "tls": {"latency_ms": 50, "sts": {"64": level}, "cam": {"python": cam}},
    }
    rows = [line for line in markdown(report).splitlines() if line.startswith("| ")]
    assert any(
        line.startswith("| 64 | python | 400.0 | 120.0 |") and "| 0.5x | 2.0x |" in line
        for line in rows
    )
    assert any(line.startswith("| 64 | baseline | 800.0 |") and "|  |  |" in line for line in rows)
    assert not any("python_over_baseline" in line for line in rows)
    assert any(
        line.startswith("| python | 20 | 120.0/190.0 | 47.0 |")
        and "3 (AddUser 1, AddUserToGroup 1, DeleteUser 1)" in line
        and "5.5+2.5, 1.0, 3.5" in line
        for line in rows
    )
