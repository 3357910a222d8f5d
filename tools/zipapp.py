"""Build the plugin's one executable file: a shebang line, then a zip archive.

The archive holds two things: ``__main__`` (tools/zipapp_bootstrap.py with this build's
constants filled in, as source and bytecode) and ``payload.zip``, the installed packages
(``pip install --target``) with their bytecode. The bootstrap unpacks the payload once per
build, checks the copy on every start, and runs the entry point from there; see its docstring.

Decisions, each for the plugin's start-up time or for Vault's sha256 pin:

- The bytecode is compiled here, for the interpreter the shebang names, as unchecked-hash
  .pyc files (PEP 552) in ``__pycache__``: the first start imports them as they are, without
  compiling, writing or comparing a source's mtime (unpacking gives every file a new one).
- The payload is one stored member rather than hundreds of members: Python reads the whole
  central directory of the archive it starts from, on every start, and this one has three
  entries.
- The same inputs give the same bytes: entries sorted, one fixed timestamp, permissions reduced
  to executable or not, no path of the build machine in the bytecode. (Since 3.11 marshal
  writes set constants in an order independent of the string hash seed.) The build id, the
  name of the directory the payload unpacks into, is the sha256 of the payload.
- The bootstrap carries the payload's manifest (``zipapp_bootstrap.manifest_digest``: a sha256
  over each file's path, sha256 and executable bit), computed here from the files themselves:
  unpacking checks what it wrote against it, so the copy on disk is this build's, file by file.

Standard library only. Run it with the interpreter the archive will run on (the Makefile's
BASE_PYTHON): that is the one whose bytecode it writes.
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import hashlib
import io
import os
import py_compile
import re
import runpy
import sys
import tempfile
import zipfile
from pathlib import Path

BOOTSTRAP = Path(__file__).with_name("zipapp_bootstrap.py")
APP_NAME = "vault-plugin-secrets-tencentcloud"
UNPACK_ENV = "TENCENTCLOUD_PLUGIN_UNPACK_DIR"
READONLY_ENV = "TENCENTCLOUD_PLUGIN_READONLY_DIR"
PAYLOAD = "payload.zip"
# The earliest time a zip entry can carry.
EPOCH = (1980, 1, 1, 0, 0, 0)
# Past these zipfile writes zip64 records, which the bootstrap's reader does not know.
ZIP_MEMBERS_LIMIT = 0xFFFF
ZIP_BYTES_LIMIT = 0x7FFFFFFF


class BuildError(Exception):
    """The inputs cannot make an archive; the message says why."""


def _entry(name: str, executable: bool, compress_type: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.create_system = 3  # Unix, so that readers honour the mode below
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.compress_type = compress_type
    return info


def _pyc(source: Path, name: str, scratch: Path) -> bytes | None:
    """Bytecode of ``source`` as an unchecked-hash .pyc; None when it does not compile (such a
    file is not importable on this interpreter anyway, so it stays source only)."""
    out = scratch / "module.pyc"
    try:
        py_compile.compile(
            str(source),
            cfile=str(out),
            dfile=name,  # no build path in the bytes; the import system sets the real one
            doraise=True,
            optimize=0,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
    except py_compile.PyCompileError as exc:
        reason = exc.msg.strip().splitlines()[-1]
        print(f"zipapp: {name} left uncompiled: {reason}", file=sys.stderr)
        return None
    return out.read_bytes()


def _cached_name(name: str) -> str:
    """Where this interpreter looks for the bytecode of ``name`` (``a/b.py`` →
    ``a/__pycache__/b.cpython-311.pyc``)."""
    directory, _, module = name.rpartition("/")
    cached = f"__pycache__/{module[:-3]}.{sys.implementation.cache_tag}.pyc"
    return f"{directory}/{cached}" if directory else cached


def collect(site_packages: Path, exclude: tuple[str, ...] = ()) -> dict[str, tuple[bytes, bool]]:
    """The payload's files, by relative path: (content, executable). The files of
    ``site_packages`` plus the bytecode of each .py file in it, without the bytecode already
    there (pip's is checked against mtimes) and without the files whose path matches a
    pattern of ``exclude`` (fnmatch, ``/``-separated, from the top)."""
    files: dict[str, tuple[bytes, bool]] = {}  # name: (content, executable)
    with tempfile.TemporaryDirectory(prefix="zipapp-") as scratch:
        for directory, subdirs, names in os.walk(site_packages):
            subdirs[:] = [d for d in subdirs if d != "__pycache__"]
            for file_name in names:
                path = Path(directory, file_name)
                if path.suffix == ".pyc":
                    continue
                name = path.relative_to(site_packages).as_posix()
                if any(fnmatch.fnmatchcase(name, pattern) for pattern in exclude):
                    continue
                files[name] = (path.read_bytes(), bool(path.stat().st_mode & 0o111))
                if path.suffix == ".py":
                    compiled = _pyc(path, name, Path(scratch))
                    if compiled is not None:
                        files[_cached_name(name)] = (compiled, False)
    if not files:
        raise BuildError(f"{site_packages} holds no files")
    return files


def payload(files: dict[str, tuple[bytes, bool]]) -> bytes:
    """The payload zip of ``collect``'s files."""
    if len(files) >= ZIP_MEMBERS_LIMIT:
        raise BuildError(f"{len(files)} files: the bootstrap reads no zip64 archive")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            content, executable = files[name]
            info = _entry(name, executable, zipfile.ZIP_DEFLATED)
            archive.writestr(info, content, compresslevel=9)
    if buffer.tell() > ZIP_BYTES_LIMIT:
        raise BuildError(f"{buffer.tell()} bytes: the bootstrap reads no zip64 archive")
    return buffer.getvalue()


def manifest(files: dict[str, tuple[bytes, bool]]) -> str:
    """The payload's manifest, by the bootstrap's own function (it is the one that checks it)."""
    digest = runpy.run_path(str(BOOTSTRAP))["manifest_digest"]
    entries = [
        (name, hashlib.sha256(content).hexdigest(), executable)
        for name, (content, executable) in files.items()
    ]
    return str(digest(entries))


def bootstrap_source(
    build_id: str,
    entry_point: str,
    app_name: str,
    unpack_env: str,
    readonly_env: str,
    manifest_digest: str,
) -> str:
    source = BOOTSTRAP.read_text()
    values = {
        "BUILD_ID": build_id,
        "ENTRY_POINT": entry_point,
        "APP_NAME": app_name,
        "UNPACK_ENV": unpack_env,
        "READONLY_ENV": readonly_env,
        "MANIFEST": manifest_digest,
    }
    for name, value in values.items():
        source, count = re.subn(
            rf'^{name} = ".*"$', f"{name} = {value!r}", source, count=1, flags=re.MULTILINE
        )
        if count != 1:
            raise BuildError(f'{BOOTSTRAP.name} has no line `{name} = "..."` to fill in')
    return source


def check_entry_point(entry_point: str) -> None:
    module, colon, function = entry_point.partition(":")
    parts = [*module.split("."), function]
    if not colon or not all(part.isidentifier() for part in parts):
        raise BuildError(f"entry point {entry_point!r} is not module.path:function")


def check_interpreter(interpreter: str) -> None:
    """The shebang's interpreter must be this one: the bytecode is this one's."""
    program = interpreter.split()[0] if interpreter.strip() else ""
    if os.path.realpath(program) != os.path.realpath(sys.executable):
        raise BuildError(
            f"run this tool with the interpreter the archive names ({program or '?'}), "
            f"not {sys.executable}: the bytecode it compiles is for the interpreter running it"
        )


@dataclasses.dataclass(frozen=True)
class AppOptions:
    """What the bootstrap is built with: the entry point it runs, the name of the default
    unpack directory, and the variables that choose another one."""

    entry_point: str
    app_name: str = APP_NAME
    unpack_env: str = UNPACK_ENV
    readonly_env: str = READONLY_ENV
    exclude: tuple[str, ...] = ()


def app_members(
    site_packages: Path, options: AppOptions
) -> tuple[str, list[tuple[zipfile.ZipInfo, bytes]]]:
    """The archive's members for the interpreter running this tool, and the build id. All
    stored: zipimport would import zlib to read the first two on every start, and the payload
    is compressed already."""
    check_entry_point(options.entry_point)
    files = collect(site_packages, options.exclude)
    packed = payload(files)
    build_id = hashlib.sha256(packed).hexdigest()
    source = bootstrap_source(
        build_id,
        options.entry_point,
        options.app_name,
        options.unpack_env,
        options.readonly_env,
        manifest(files),
    )
    with tempfile.TemporaryDirectory(prefix="zipapp-") as scratch:
        main_py = Path(scratch, "__main__.py")
        main_py.write_text(source)
        main_pyc = _pyc(main_py, "__main__.py", Path(scratch))
    if main_pyc is None:
        raise BuildError(f"{BOOTSTRAP.name} does not compile")
    members = [
        (_entry("__main__.py", False, zipfile.ZIP_STORED), source.encode()),
        # Found before __main__.py: zipimport looks for bytecode beside the source.
        (_entry("__main__.pyc", False, zipfile.ZIP_STORED), main_pyc),
        (_entry(PAYLOAD, False, zipfile.ZIP_STORED), packed),
    ]
    return build_id, members


def build(site_packages: Path, output: Path, *, interpreter: str, options: AppOptions) -> str:
    """Write the executable to ``output``; return its build id."""
    check_interpreter(interpreter)
    build_id, members = app_members(site_packages, options)
    with output.open("wb") as out:
        out.write(f"#!{interpreter}\n".encode())
        with zipfile.ZipFile(out, "w") as archive:
            for info, content in members:
                archive.writestr(info, content)
    output.chmod(0o755)
    return build_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site-packages", type=Path, required=True, help="pip --target dir")
    parser.add_argument(
        "--interpreter", required=True, help="the shebang's command, e.g. '/usr/bin/python3 -sSE'"
    )
    parser.add_argument("--entry-point", required=True, help="module.path:function")
    parser.add_argument("--app-name", default=APP_NAME, help="names the default unpack dir")
    parser.add_argument("--unpack-env", default=UNPACK_ENV, help="overrides the unpack dir")
    parser.add_argument(
        "--readonly-env", default=READONLY_ENV, help="names a prepared dir, used read-only"
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="leave out files matching this pattern (repeatable), e.g. 'bin/*'",
    )
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        options = AppOptions(
            args.entry_point, args.app_name, args.unpack_env, args.readonly_env, tuple(args.exclude)
        )
        build_id = build(
            args.site_packages, args.output, interpreter=args.interpreter, options=options
        )
    except BuildError as exc:
        print(f"zipapp: {exc}", file=sys.stderr)
        return 1
    print(f"zipapp: {args.output} (build {build_id[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
