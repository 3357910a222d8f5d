"""`make demo` walks through the plugin on the emulator; this runs it once, end to end."""

from __future__ import annotations

import subprocess
import sys

from tencentcloud_emulator.testing import running_emulator
from tools.vaultserver import ROOT


def test_demo_walkthrough(built: None) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "demo.py"), "--once"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Success! Enabled the vault-plugin-secrets-tencentcloud secrets engine" in out
    assert "secret_key_set     true" in out
    assert "reader" in out
    with running_emulator() as emulator:
        assert emulator.secret_key not in out + result.stderr
