"""Packaging invariants: the hand-written package lists and the generated protobuf code.

The layers' import rules are import-linter's contracts in setup.cfg, checked by `make lint`.
"""

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
