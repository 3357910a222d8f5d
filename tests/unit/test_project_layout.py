"""Packaging invariants: the hand-written package list and the generated protobuf code."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_is_listed_in_setup_cfg() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    roots = {
        line.split("=")[0].strip(): ROOT / line.split("=")[1].strip()
        for line in config["options"]["package_dir"].strip().splitlines()
    }
    found = set()
    for name, directory in roots.items():
        for init in directory.rglob("__init__.py"):
            relative = init.parent.relative_to(directory)
            found.add(".".join([name, *relative.parts]))
    assert found == listed


def test_generated_protobuf_code_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "genproto.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
