"""Packaging invariants: the hand-written package lists and the generated protobuf code."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Each distribution's project directory (where its setup.cfg is), and the directories holding
# the source trees of the import packages they ship, between them.
DISTRIBUTIONS = {"plugin": ROOT, "emulator": ROOT / "emulator"}
SOURCE_ROOTS = ("plugin", "shim", "emulator")


def _options(project: Path) -> configparser.SectionProxy:
    config = configparser.ConfigParser()
    assert config.read(project / "setup.cfg"), f"no setup.cfg in {project}"
    return config["options"]


def _listed(project: Path) -> set[str]:
    return set(_options(project)["packages"].split())


def _roots(project: Path) -> dict[str, Path]:
    """Each top-level import package the distribution ships, and its source directory."""
    options = _options(project)
    mapped = {
        line.split("=")[0].strip(): project / line.split("=")[1].strip()
        for line in options.get("package_dir", "").strip().splitlines()
    }
    tops = {name.split(".")[0] for name in _listed(project)}
    return {name: mapped.get(name, project / name) for name in tops}


def _packages_under(name: str, directory: Path) -> set[str]:
    return {
        ".".join([name, *init.parent.relative_to(directory).parts])
        for init in directory.rglob("__init__.py")
    }


@pytest.mark.parametrize("distribution", sorted(DISTRIBUTIONS))
def test_every_package_is_listed_in_its_setup_cfg(distribution: str) -> None:
    project = DISTRIBUTIONS[distribution]
    found = set()
    for name, directory in _roots(project).items():
        assert (directory / "__init__.py").is_file(), f"{name}: no package at {directory}"
        found |= _packages_under(name, directory)
    assert found == _listed(project)


def test_every_source_package_belongs_to_exactly_one_distribution() -> None:
    shipped = [
        directory.resolve()
        for project in DISTRIBUTIONS.values()
        for directory in _roots(project).values()
    ]
    on_disk = [
        init.parent.resolve()
        for source_root in SOURCE_ROOTS
        for init in (ROOT / source_root).glob("*/__init__.py")
    ]
    assert sorted(shipped) == sorted(on_disk)


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
