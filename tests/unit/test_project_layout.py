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


def _imports_in(directory: Path) -> dict[Path, set[str]]:
    """The top-level modules each file imports (a textual scan of import statements)."""
    import ast

    found: dict[Path, set[str]] = {}
    for path in directory.rglob("*.py"):
        if "_proto" in path.parts:
            continue
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
        found[path] = names
    return found


def test_layers_stay_apart() -> None:
    """The shim knows nothing of Tencent, the framework nothing of Tencent, the client nothing
    of Vault, the emulator nothing of the plugin."""
    rules = {
        ROOT / "shim": ("tencentcloud_secrets", "tencentcloud_emulator"),
        ROOT / "emulator": ("tencentcloud_secrets", "tencentcloud_secrets_shim"),
        ROOT / "plugin/tencentcloud_secrets/framework": ("tencentcloud_secrets.tencentcloud",),
        ROOT / "plugin/tencentcloud_secrets/tencentcloud": (
            "tencentcloud_secrets_shim",
            "tencentcloud_secrets.framework",
        ),
    }
    broken = [
        f"{path.relative_to(ROOT)} imports {name}"
        for directory, forbidden in rules.items()
        for path, names in _imports_in(directory).items()
        for name in names
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]
    assert broken == []


def test_what_the_emulator_tests_take_from_tests_support_needs_no_plugin() -> None:
    """The helpers the emulator's tests share with the others stay free of the plugin, so
    that those tests keep checking the emulator alone (they may import the plugin's signer
    themselves, as an independent client)."""
    support = {
        f"tests.support.{path.stem}": names
        for path, names in _imports_in(ROOT / "tests" / "support").items()
    }
    needed = {
        name
        for names in _imports_in(ROOT / "tests" / "emulator").values()
        for name in names
        if name in support
    }
    seen: set[str] = set()
    while needed:
        module = needed.pop()
        seen.add(module)
        needed |= {n for n in support[module] if n in support and n not in seen}
    forbidden = ("tencentcloud_secrets", "tencentcloud_secrets_shim")
    broken = [
        f"{module} imports {name}"
        for module in sorted(seen)
        for name in support[module]
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]
    assert seen, "the emulator's tests use tests/support"
    assert broken == []
