"""Build the self-contained release file: a Linux executable that carries its own Python.

The file is three parts, back to back (tools/release/launcher.c says how it starts):

1. the launcher, a small C program linked against the C library alone;
2. the runtime's ``libpython3.11.so.1.0``, stored as is at a page boundary, which the launcher
   copies into a sealed memory file and loads: nothing of the interpreter touches the disk;
3. a zip archive: the standard library as bytecode under ``stdlib/`` (imported from the
   archive), and the zipapp's own members (``__main__``, ``payload.zip``; tools/zipapp.py),
   whose bootstrap unpacks and checks the plugin's dependencies as it does in the zipapp.

The runtime is python-build-standalone's CPython, which links nothing but glibc and carries its
extension modules (ssl with OpenSSL among them) inside libpython. It comes from the Go module
proxy, in the module tools/release/go.mod pins (its go.sum checks the download).

Two commands. ``runtime`` unpacks that module's linux-amd64 tree into a directory (the
interpreter, the stripped libpython, the standard library's sources). ``pack`` runs on that
runtime's own interpreter, so the bytecode it compiles is the runtime's, and writes the file.
The same inputs give the same bytes: sorted members, fixed timestamps, bytecode without build
paths (unchecked-hash .pyc), a launcher compiled without them.
"""

from __future__ import annotations

import argparse
import fnmatch
import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools import zipapp  # this file runs as a script, on the runtime's own Python

LOCATOR_MAGIC = b"tc-release-lib:1"
LOCATOR_FIELDS = 8 + 8 + 4  # offset, length, PY_VERSION_HEX; little-endian
PAGE = 4096
LIBPYTHON = "libpython3.11.so.1.0"
STDLIB_PREFIX = "stdlib/"
# What the plugin never imports and a server has no use for: tests, GUIs, installers, build
# support. Leaving them out saves a third of the standard library.
STDLIB_EXCLUDE = (
    "test/*",
    "*/test/*",
    "*/tests/*",
    "idlelib/*",
    "tkinter/*",
    "turtledemo/*",
    "turtle.py",
    "lib2to3/*",
    "ensurepip/*",
    "distutils/*",
    "venv/*",
    "pydoc_data/*",
    "curses/*",
    "sqlite3/*",
    "dbm/*",
    "site-packages/*",
    "lib-dynload/*",
    "config-3.*/*",
    "__phello__/*",
    "__hello__.py",
)


class ReleaseError(Exception):
    """The inputs cannot make a release file; the message says why."""


# --- runtime ---------------------------------------------------------------------------------


def unpack_runtime(module_dir: Path, into: Path, strip: str = "strip") -> None:
    """The module's linux-amd64 tree as a runtime directory: bin/python3.11,
    lib/libpython3.11.so.1.0 (stripped of its symbol table: 58 MB become 24), and the
    standard library under lib/python3.11 (sources and the license only)."""
    data = module_dir / "python" / "internal" / "data" / "linux-amd64"
    listing = json.loads((data / "files.json").read_text())
    scratch = into.with_name(into.name + ".tmp")
    shutil.rmtree(scratch, ignore_errors=True)
    for entry in listing["files"]:
        name = entry["name"]
        if entry.get("symlink") or not (name.startswith("lib/") or name == "bin/python3.11"):
            continue
        source = data / name
        if source.is_dir():
            continue
        if name.startswith("lib/python3.11/") and not name.endswith((".py", "LICENSE.txt")):
            continue  # the two extension modules shipped apart (_crypt, _testclinic)
        target = scratch / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not source.exists() and source.with_name(source.name + ".gz").exists():
            with gzip.open(source.with_name(source.name + ".gz")) as packed:
                target.write_bytes(packed.read())
        else:
            target.write_bytes(source.read_bytes())
        target.chmod(0o755 if entry.get("perm", 0) & 0o111 else 0o644)
    # Where the interpreter looks for its extension modules: there are none, but without the
    # directory every start of the build's interpreter warns.
    (scratch / "lib" / "python3.11" / "lib-dynload").mkdir(parents=True, exist_ok=True)
    library = scratch / "lib" / LIBPYTHON
    if not library.exists():
        raise ReleaseError(f"{module_dir} holds no lib/{LIBPYTHON}")
    subprocess.run([strip, "--strip-unneeded", str(library)], check=True)
    shutil.rmtree(into, ignore_errors=True)
    scratch.rename(into)


# --- pack ------------------------------------------------------------------------------------


def stdlib_members(lib: Path) -> list[tuple[zipfile.ZipInfo, bytes]]:
    """The standard library as sourceless bytecode (``stdlib/os.pyc``: zipimport finds a
    module's .pyc beside where its source would be), stored so that importing one inflates
    nothing, and Python's license."""
    members = []
    with tempfile.TemporaryDirectory(prefix="release-") as scratch:
        for path in sorted(lib.rglob("*")):
            name = path.relative_to(lib).as_posix()
            if path.is_dir() or any(fnmatch.fnmatchcase(name, p) for p in STDLIB_EXCLUDE):
                continue
            if name == "LICENSE.txt":
                members.append(
                    (
                        zipapp._entry(STDLIB_PREFIX + name, False, zipfile.ZIP_DEFLATED),
                        path.read_bytes(),
                    )
                )
                continue
            if path.suffix != ".py":
                continue
            compiled = zipapp._pyc(path, name, Path(scratch))
            if compiled is not None:
                info = zipapp._entry(STDLIB_PREFIX + name + "c", False, zipfile.ZIP_STORED)
                members.append((info, compiled))
    if not any(info.filename == STDLIB_PREFIX + "os.pyc" for info, _ in members):
        raise ReleaseError(f"{lib} is not a standard library (no os.py)")
    return members


def patch_locator(launcher: bytes, offset: int, length: int) -> bytes:
    at = launcher.find(LOCATOR_MAGIC)
    if at < 0 or launcher.find(LOCATOR_MAGIC, at + 1) >= 0:
        raise ReleaseError("the launcher has no single locator to fill in")
    end = at + len(LOCATOR_MAGIC)
    fields = (
        offset.to_bytes(8, "little")
        + length.to_bytes(8, "little")
        + sys.hexversion.to_bytes(4, "little")
    )
    if launcher[end : end + LOCATOR_FIELDS] != bytes(LOCATOR_FIELDS):
        raise ReleaseError("the launcher's locator was filled in already")
    return launcher[:end] + fields + launcher[end + LOCATOR_FIELDS :]


def pack(
    runtime: Path,
    launcher: Path,
    site_packages: Path,
    output: Path,
    *,
    entry_point: str,
    exclude: tuple[str, ...] = (),
) -> str:
    """Write the release file; return its sha256."""
    if Path(sys.executable).resolve() != (runtime / "bin" / "python3.11").resolve():
        raise ReleaseError(
            f"run this with {runtime}/bin/python3.11: the bytecode is for the interpreter "
            f"running it, not {sys.executable}"
        )
    front = launcher.read_bytes()
    library = (runtime / "lib" / LIBPYTHON).read_bytes()
    offset = -(-len(front) // PAGE) * PAGE
    front = patch_locator(front, offset, len(library))
    _, app = zipapp.app_members(
        site_packages, zipapp.AppOptions(entry_point=entry_point, exclude=exclude)
    )
    members = stdlib_members(runtime / "lib" / "python3.11") + app
    scratch = output.with_name(output.name + ".tmp")
    with scratch.open("wb") as out:
        out.write(front)
        out.write(bytes(offset - len(front)))
        out.write(library)
        with zipfile.ZipFile(out, "w") as archive:
            for info, content in sorted(members, key=lambda member: member[0].filename):
                archive.writestr(info, content, compresslevel=9)
    scratch.chmod(0o755)
    scratch.rename(output)
    return hashlib.sha256(output.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    runtime = commands.add_parser("runtime", help="unpack the runtime module into a directory")
    runtime.add_argument("--module-dir", type=Path, required=True, help="its Go module directory")
    runtime.add_argument("-o", "--output", type=Path, required=True)
    packer = commands.add_parser("pack", help="write the release file (run on the runtime)")
    packer.add_argument("--runtime", type=Path, required=True)
    packer.add_argument("--launcher", type=Path, required=True)
    packer.add_argument("--site-packages", type=Path, required=True)
    packer.add_argument("--entry-point", required=True)
    packer.add_argument("--exclude", action="append", default=[], metavar="PATTERN")
    packer.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "runtime":
            unpack_runtime(args.module_dir, args.output)
            print(f"release: runtime in {args.output}")
        else:
            digest = pack(
                args.runtime,
                args.launcher,
                args.site_packages,
                args.output,
                entry_point=args.entry_point,
                exclude=tuple(args.exclude),
            )
            print(f"{digest}  {args.output.name}")
    except (ReleaseError, zipapp.BuildError) as exc:
        print(f"release: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
