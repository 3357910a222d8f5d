"""The ``__main__`` of the plugin's zipapp: find the unpacked dependencies, then run the plugin.

tools/zipapp.py copies this file into the archive and fills in the constants below. It runs on
every start of the plugin, before anything else, so it must stay cheap: on the usual path,
where the build's directory exists and one ``stat`` of its marker says so, it imports only
modules already loaded when a zipapp's ``__main__`` runs (``runpy`` loads them). Only the
first start of a build imports more, to unpack.

Native extensions cannot be imported from inside a zip archive, so the payload (the installed
packages with their bytecode compiled at build time) is unpacked once per build into
``<root>/<build id>``. ``<root>`` is ``$TENCENTCLOUD_PLUGIN_UNPACK_DIR`` when set, else
``$XDG_CACHE_HOME/<app>/zipapp``, else ``$HOME/.cache/<app>/zipapp`` (the password database's
home directory when HOME is unset).

Vault may start several plugin processes at once: each unpacks into a directory of its own
and renames it to the build's name; the first rename wins and the others use its directory.
The marker is the last file written, so a directory with a marker is complete. Nothing here
checks that unpacked files are unchanged since: whoever may write the unpack directory may
change what the plugin runs, as with any installed program.
"""

# No `from __future__ import annotations`: it imports a module too.
import contextlib
import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from typing import Any

# tools/zipapp.py replaces these four values when it builds the archive.
BUILD_ID = "unbuilt"
ENTRY_POINT = "module:function"
APP_NAME = "app"
UNPACK_ENV = "APP_UNPACK_DIR"

PAYLOAD = "payload.zip"
MARKER = ".unpacked"
# The zip format's records, as far as this reader needs them (PKWARE's APPNOTE.TXT, 4.3).
_END_RECORD = b"PK\x05\x06"  # end of central directory: entries, size, offset
_END_FIELDS = "<10xHLL"
_CENTRAL_RECORD = b"PK\x01\x02"  # one per member: method, sizes, name, mode, header offset
_CENTRAL_FIELDS = "<4s6xH8xLLHHH4xLL"
_CENTRAL_SIZE = 46
_LOCAL_RECORD = b"PK\x03\x04"  # before each member's data: its own name and extra lengths
_LOCAL_FIELDS = "<4s22xHH"
_LOCAL_SIZE = 30
_STORED, _DEFLATED = 0, 8


class UnpackError(Exception):
    """No usable directory for the payload; the message says what to do."""


class Member:
    """A file in the payload: where its bytes are and how to write them."""

    __slots__ = ("executable", "length", "method", "name", "size", "start")

    def __init__(
        self, name: str, method: int, start: int, size: int, length: int, mode: int
    ) -> None:
        self.name = name
        self.method = method  # _STORED or _DEFLATED
        self.start = start  # of its data in the payload
        self.size = size  # in the payload
        self.length = length  # once unpacked
        self.executable = bool(mode & 0o100)


def unpack_root() -> str:
    override = os.environ.get(UNPACK_ENV)
    if override:
        return os.path.abspath(override)
    cache = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(cache):  # the XDG spec says to ignore a relative path
        home = os.environ.get("HOME", "") or _home_from_passwd()
        if not os.path.isabs(home):
            raise UnpackError(
                f"HOME is not set, so there is no default place to unpack the plugin's "
                f"dependencies: set {UNPACK_ENV} to a directory this user may write "
                f"(vault plugin register -env={UNPACK_ENV}=/path ...)"
            )
        cache = os.path.join(home, ".cache")
    return os.path.join(cache, APP_NAME, "zipapp")


def _home_from_passwd() -> str:
    """The user's home directory from the password database, as a login would set HOME: a
    Vault service started without HOME still finds its cache."""
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_dir
    except (ImportError, KeyError):
        return ""


def make_dirs(path: str) -> None:
    """Like os.makedirs, but every directory it creates is 0700, not only the last one, and
    another thread creating one of them at the same time is no error."""
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, 0o700)


def members(data: bytes) -> list[Member]:
    """The files in the payload zip. It reads only what tools/zipapp.py writes (no zip64, no
    encryption, stored or deflated): zipfile would cost 15 ms of imports, and its checksums
    repeat what Vault's sha256 of the whole file has checked."""
    import struct

    end = data.rfind(_END_RECORD)
    if end < 0:
        raise UnpackError(f"{PAYLOAD} is not a zip archive")
    count, _, pos = struct.unpack_from(_END_FIELDS, data, end)
    found = []
    for _ in range(count):
        record = struct.unpack_from(_CENTRAL_FIELDS, data, pos)
        magic, method, size, length, name_len, extra_len, comment_len, attributes, header = record
        name = data[pos + _CENTRAL_SIZE : pos + _CENTRAL_SIZE + name_len].decode()
        pos += _CENTRAL_SIZE + name_len + extra_len + comment_len
        local, local_name_len, local_extra_len = struct.unpack_from(_LOCAL_FIELDS, data, header)
        parts = name.split("/")
        if magic != _CENTRAL_RECORD or local != _LOCAL_RECORD or method not in (_STORED, _DEFLATED):
            raise UnpackError(f"{PAYLOAD}: {name!r} is not a member this reader knows")
        if name.startswith("/") or ".." in parts or name.endswith("/"):
            raise UnpackError(f"{PAYLOAD}: {name!r} is not a file's relative path")
        start = header + _LOCAL_SIZE + local_name_len + local_extra_len
        found.append(Member(name, method, start, size, length, attributes >> 16))
    return found


def write_file(path: str, content: bytes | memoryview, mode: int) -> None:
    """A new file, written with plain system calls (open() would add an lseek, an ioctl
    and an fstat to each of a thousand files)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def write_all(data: bytes, files: list[Member], into: str) -> None:
    """Write the files in a few threads, one directory at a time per thread: creating a file
    costs the kernel more than inflating most of them, both run without the GIL, and
    threads creating files in one directory wait for each other."""
    import threading
    import zlib

    by_directory: dict[str, list[Member]] = {}
    for member in files:
        by_directory.setdefault(os.path.dirname(member.name), []).append(member)

    def cost(directory: str) -> int:
        # A file's creation weighs about as much as inflating and writing 30 kB.
        return sum(30_000 + member.length for member in by_directory[directory])

    view = memoryview(data)
    work = iter(sorted(by_directory, key=cost, reverse=True))
    lock = threading.Lock()
    failures: list[BaseException] = []

    def worker() -> None:
        while not failures:
            with lock:
                directory = next(work, None)
            if directory is None:
                return
            try:
                make_dirs(os.path.join(into, directory))
                for member in by_directory[directory]:
                    raw = view[member.start : member.start + member.size]
                    content: bytes | memoryview = raw
                    if member.method == _DEFLATED:
                        content = zlib.decompress(raw, -zlib.MAX_WBITS, member.length)
                    mode = 0o700 if member.executable else 0o600
                    write_file(os.path.join(into, member.name), content, mode)
            except BaseException as exc:
                failures.append(exc)

    helpers = [threading.Thread(target=worker) for _ in range(min(4, os.cpu_count() or 1) - 1)]
    for helper in helpers:
        helper.start()
    worker()
    for helper in helpers:
        helper.join()
    if failures:
        raise failures[0]


def unpack(loader: "Any", target: str) -> None:
    """Unpack the payload into a fresh sibling of ``target``, then rename it to ``target``."""
    import shutil

    data = loader.get_data(PAYLOAD)
    files = members(data)
    make_dirs(os.path.dirname(target))
    scratch = f"{target}.{os.getpid()}-{os.urandom(4).hex()}.tmp"
    os.mkdir(scratch, 0o700)
    try:
        write_all(data, files, scratch)
        write_file(os.path.join(scratch, MARKER), f"{BUILD_ID}\n".encode(), 0o600)
        try:
            os.rename(scratch, target)
        except OSError:
            # Another start of this build renamed its copy first: use that one.
            if not os.path.exists(os.path.join(target, MARKER)):
                raise
    finally:
        if os.path.exists(scratch):
            shutil.rmtree(scratch, ignore_errors=True)


def locate(loader: "Any") -> str:
    """The build's unpacked directory, unpacking it on the build's first start."""
    root = unpack_root()
    target = os.path.join(root, BUILD_ID)
    marker = os.path.join(target, MARKER)
    if os.path.exists(marker):
        return target
    # In this order because a concurrent start may rename its complete copy in between.
    if os.path.exists(target) and not os.path.exists(marker):
        raise UnpackError(f"{target} is incomplete (no {MARKER}): remove it and start again")
    try:
        unpack(loader, target)
    except OSError as exc:
        raise UnpackError(
            f"cannot unpack the plugin's dependencies into {root}: {exc}; set {UNPACK_ENV} "
            f"to a directory this user may write (vault plugin register -env={UNPACK_ENV}=/path)"
        ) from None
    return target


def main() -> int | str | None:
    loader = globals()["__loader__"]  # this archive's zipimporter (mypy has no name for it)
    try:
        site = locate(loader)
    except UnpackError as exc:
        print(f"{APP_NAME}: {exc}", file=sys.stderr)
        return 1
    # The archive holds no importable module: the unpacked directory takes its place.
    if sys.path and sys.path[0] == loader.archive:
        sys.path[0] = site
    else:
        sys.path.insert(0, site)
    import importlib

    module, _, function = ENTRY_POINT.partition(":")
    entry = getattr(importlib.import_module(module), function)
    result: int | str | None = entry()
    return result


if __name__ == "__main__":
    sys.exit(main())
