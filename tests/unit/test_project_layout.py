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
