"""The ``__main__`` of the plugin's zipapp: find the unpacked dependencies, check them, then run
the plugin.

tools/zipapp.py copies this file into the archive and fills in the constants below. It runs on
every start of the plugin, before anything else, so it must stay cheap: on the usual path it
imports only modules already loaded when a zipapp's ``__main__`` runs (``runpy`` loads them,
and the import system ``marshal``). Only the first start of a build imports more, to unpack.

Native extensions cannot be imported from inside a zip archive, so the payload (the installed
packages with their bytecode compiled at build time) is unpacked once per build into
``<root>/<build id>``. ``<root>`` is ``$TENCENTCLOUD_PLUGIN_UNPACK_DIR`` when set, else
``$XDG_CACHE_HOME/<app>/zipapp``, else ``$HOME/.cache/<app>/zipapp`` (the password database's
home directory when HOME is unset). With ``$TENCENTCLOUD_PLUGIN_READONLY_DIR`` set instead, the
build's directory under it must have been prepared by ``<app> --unpack-to DIR``, and nothing
is ever written there.

The sha256 Vault pins covers this archive, not the unpacked copy, so the copy is used only when
no one but this user or root can have changed it since it was unpacked (docs/security.md):

- every directory from the root down, and every file, belongs to this user or root and is not
  writable by group or others; the directories above the root likewise, except that a sticky
  one (/tmp) may be writable; nothing below the root is a symbolic link or a special file;
- the record (``.unpacked``) names this build and its manifest (the sha256 of every payload
  file, fixed at build time and checked against what was written when unpacking), and lists
  every file with its size, inode, mtime and ctime as they were right after unpacking. The
  tree must match it exactly: no file more or less, none rewritten (a write changes the ctime,
  which no one but root can set back). Comparing ``lstat`` results costs a few milliseconds;
  hashing every file again would cost ten times that, on every start.

A copy that fails is moved aside (``*.rejected``, kept for inspection) and the payload is
unpacked afresh; a root that fails, or a read-only directory that fails, stops the start with a
message saying why. Vault may start several plugin processes at once: each unpacks into a
directory of its own and renames it to the build's name; the first rename wins and the others
use its directory. The record is the last file written, so a directory with one is complete.

Each process holds a shared lock (``flock``) on its build's record for as long as it runs, taken
before the tree is checked. After an upgrade the earlier build's copy would otherwise stay
behind: every start removes, under the root, the copies of other builds that no process holds
(it takes their record's lock exclusively, renames the copy out of the build's name, then
deletes it). Only copies this user owns whose record says they are held this way are removed;
copies unpacked by a build from before the locks, ``*.rejected`` and the read-only directory
are left alone.
"""

# No `from __future__ import annotations`: it imports a module too.
import contextlib
import marshal
import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from typing import Any

# tools/zipapp.py replaces these values when it builds the archive.
BUILD_ID = "unbuilt"
ENTRY_POINT = "module:function"
APP_NAME = "app"
UNPACK_ENV = "APP_UNPACK_DIR"
READONLY_ENV = "APP_READONLY_DIR"
MANIFEST = "unbuilt"

PAYLOAD = "payload.zip"
MARKER = ".unpacked"
# The record's last field in builds whose processes lock their copy (see above).
HELD = "held"
REMOVING = ".removing"
UNPACK_TO = "--unpack-to"
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
# The stat module's values, without importing it.
_S_IFMT, _S_IFDIR, _S_IFREG, _S_ISVTX = 0o170000, 0o040000, 0o100000, 0o1000
_GROUP_OTHER_WRITE = 0o022
_EUID = os.geteuid()
# A record is opened without following a link and without waiting (a FIFO would block open).
_OPEN_RECORD = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


# The lock on this process's copy: open for the life of the process, never closed.
_held_fd = -1


class UnpackError(Exception):
    """No usable directory for the payload; the message says what to do."""


class UntrustedError(Exception):
    """An unpacked tree, or a directory above it, that others could have changed; the message
    says which path and why."""


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


def make_dirs(path: str, mode: int = 0o700) -> None:
    """Like os.makedirs, but every directory it creates has ``mode``, not only the last one,
    and another thread creating one of them at the same time is no error."""
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, mode)


def manifest_digest(entries: "list[tuple[str, str, bool]]") -> str:
    """What the build pins of its payload: the sha256 of the sorted (relative path, sha256 of
    the content, executable or not) of every file. tools/zipapp.py calls this same function,
    so the builder and the reader cannot disagree about the format."""
    import hashlib

    lines = sorted(
        f"{name}\0{digest}\0{755 if executable else 644}\n" for name, digest, executable in entries
    )
    return hashlib.sha256("".join(lines).encode()).hexdigest()


# --- checking a tree -------------------------------------------------------------------------


def _check_owner(path: str, st: "os.stat_result", sticky_ok: bool = False) -> None:
    """Refuse what a user other than this one or root could change: owned by another user,
    or writable by group or others (unless ``sticky_ok`` and the sticky bit keeps others from
    renaming or removing what is not theirs). Root is trusted because it can change anything
    anyway; a root-owned directory is what an administrator prepares."""
    if st.st_uid != _EUID and st.st_uid != 0:
        raise UntrustedError(f"{path} belongs to uid {st.st_uid}, not to uid {_EUID} or root")
    if st.st_mode & _GROUP_OTHER_WRITE and not (sticky_ok and st.st_mode & _S_ISVTX):
        raise UntrustedError(
            f"{path} is writable by group or others (mode {st.st_mode & 0o7777:o})"
        )


def check_root(root: str) -> None:
    """``root`` (a path without symbolic links) and every directory above it: see
    ``_check_owner``. Above the root a sticky directory may be world-writable, as /tmp is."""
    st = os.lstat(root)
    if st.st_mode & _S_IFMT != _S_IFDIR:
        raise UntrustedError(f"{root} is not a directory")
    _check_owner(root, st)
    path = root
    while True:
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent
        _check_owner(path, os.lstat(path), sticky_ok=True)


def survey(top: str, precise: bool) -> "dict[str, Any]":
    """Every entry under ``top`` but the record, each checked with ``_check_owner``: for a
    directory None; for a file its size, and when ``precise`` also its inode, mtime and ctime
    (``precise`` is off for a read-only tree, which copying into an image or a backup gives
    new inodes and ctimes). Refuses symbolic links and special files.

    Directories are opened without following links and listed by descriptor, so each entry's
    ``lstat`` is relative to its directory: a tenth faster than by full path."""
    table: dict[str, Any] = {}
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    top_fd = os.open(top, flags)
    try:
        pending = [""]
        while pending:
            relative = pending.pop()
            fd = os.open(relative, flags, dir_fd=top_fd) if relative else top_fd
            prefix = f"{relative}/" if relative else ""
            try:
                with os.scandir(fd) as entries:
                    for entry in entries:
                        name = prefix + entry.name
                        if name == MARKER:
                            continue
                        st = entry.stat(follow_symlinks=False)
                        kind = st.st_mode & _S_IFMT
                        if kind == _S_IFREG:
                            if precise:
                                table[name] = (
                                    st.st_size,
                                    st.st_ino,
                                    st.st_mtime_ns,
                                    st.st_ctime_ns,
                                )
                            else:
                                table[name] = st.st_size
                        elif kind == _S_IFDIR:
                            table[name] = None
                            pending.append(name)
                        else:
                            path = os.path.join(top, name)
                            raise UntrustedError(f"{path} is a symbolic link or special file")
                        # Inline, as the common case costs nothing more than two comparisons.
                        if (
                            st.st_uid != _EUID and st.st_uid != 0
                        ) or st.st_mode & _GROUP_OTHER_WRITE:
                            _check_owner(os.path.join(top, name), st)
            finally:
                if fd != top_fd:
                    os.close(fd)
    finally:
        os.close(top_fd)
    return table


def _read_record(top: str) -> "Any":
    """The record's content, read without following a symbolic link and only when its owner
    and mode pass ``_check_owner``: it is unmarshalled, which is safe only for trusted data."""
    path = os.path.join(top, MARKER)
    try:
        fd = os.open(path, _OPEN_RECORD)
    except FileNotFoundError:
        raise UntrustedError(f"{top} is incomplete (no {MARKER})") from None
    except OSError as exc:
        raise UntrustedError(f"{path} cannot be opened ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if st.st_mode & _S_IFMT != _S_IFREG:
            raise UntrustedError(f"{path} is not a regular file")
        _check_owner(path, st)
        chunks = []
        while chunk := os.read(fd, max(st.st_size, 1 << 16)):
            chunks.append(chunk)
    finally:
        os.close(fd)
    try:
        return marshal.loads(b"".join(chunks))  # noqa: S302 (owner and mode checked above)
    except (EOFError, ValueError, TypeError):
        raise UntrustedError(f"{path} is not a record this version writes") from None


def check_tree(top: str, st: "os.stat_result", precise: bool) -> None:
    """Refuse the unpacked tree at ``top`` (``st`` is its ``lstat``) unless it is this build's,
    only this user or root could have changed it, and it is as it was right after unpacking."""
    if st.st_mode & _S_IFMT != _S_IFDIR:
        raise UntrustedError(f"{top} is not a directory (a symbolic link?)")
    _check_owner(top, st)
    record = _read_record(top)
    if not (isinstance(record, tuple) and len(record) == 5):
        raise UntrustedError(f"{top}/{MARKER} is not a record this version writes")
    build, manifest, was_precise, then, _ = record
    if (build, manifest) != (BUILD_ID, MANIFEST):
        raise UntrustedError(f"{top} holds another build (manifest {str(manifest)[:12]})")
    if was_precise != precise:
        kind = "by --unpack-to, for read-only use" if was_precise is False else "by a start"
        raise UntrustedError(f"{top} was unpacked {kind}, not for this use")
    now = survey(top, precise)
    if now != then:
        raise UntrustedError(f"{top} changed since it was unpacked: {_difference(now, then)}")


def _difference(now: "dict[str, Any]", then: "Any") -> str:
    """The first path that differs, for the message."""
    recorded = then if isinstance(then, dict) else {}
    for name in sorted(now.keys() | recorded.keys()):
        if name not in recorded:
            return f"{name} is not part of the build"
        if name not in now:
            return f"{name} is missing"
        if now[name] != recorded[name]:
            return f"{name} was rewritten"
    return "its record is damaged"


# --- unpacking -------------------------------------------------------------------------------


def members(data: bytes) -> list[Member]:
    """The files in the payload zip. It reads only what tools/zipapp.py writes (no zip64, no
    encryption, stored or deflated): zipfile would cost 15 ms of imports, and its checksums
    repeat what the manifest check after unpacking covers."""
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
        if name.startswith("/") or ".." in parts or name.endswith("/") or name == MARKER:
            raise UnpackError(f"{PAYLOAD}: {name!r} is not a file's relative path")
        start = header + _LOCAL_SIZE + local_name_len + local_extra_len
        found.append(Member(name, method, start, size, length, attributes >> 16))
    return found


def write_file(path: str, content: bytes | memoryview, mode: int) -> None:
    """A new file, written with plain system calls (open() would add an lseek, an ioctl
    and an fstat to each of a thousand files)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def write_all(data: bytes, files: list[Member], into: str, shared: bool) -> dict[str, str]:
    """Write the files in a few threads, one directory at a time per thread: creating a file
    costs the kernel more than inflating most of them, both run without the GIL, and
    threads creating files in one directory wait for each other. Returns each file's sha256,
    for the manifest. ``shared``: readable by all (--unpack-to), else by this user alone."""
    import hashlib
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
    digests: dict[str, str] = {}
    directory_mode, file_mode, program_mode = (
        (0o755, 0o644, 0o755) if shared else (0o700, 0o600, 0o700)
    )

    def worker() -> None:
        while not failures:
            with lock:
                directory = next(work, None)
            if directory is None:
                return
            try:
                make_dirs(os.path.join(into, directory), directory_mode)
                for member in by_directory[directory]:
                    raw = view[member.start : member.start + member.size]
                    content: bytes | memoryview = raw
                    if member.method == _DEFLATED:
                        content = zlib.decompress(raw, -zlib.MAX_WBITS, member.length)
                    digests[member.name] = hashlib.sha256(content).hexdigest()
                    mode = program_mode if member.executable else file_mode
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
    return digests


def unpack(loader: "Any", target: str, shared: bool = False) -> None:
    """Unpack the payload into a fresh sibling of ``target``, check it against the manifest,
    record it, then rename it to ``target``."""
    data = loader.get_data(PAYLOAD)
    files = members(data)
    scratch = f"{target}.{os.getpid()}-{os.urandom(4).hex()}.tmp"
    os.mkdir(scratch, 0o755 if shared else 0o700)
    try:
        digests = write_all(data, files, scratch, shared)
        written = [(member.name, digests[member.name], member.executable) for member in files]
        if manifest_digest(written) != MANIFEST:
            raise UnpackError(f"{PAYLOAD} does not match the manifest recorded at build time")
        table = survey(scratch, not shared)
        record = marshal.dumps((BUILD_ID, MANIFEST, not shared, table, HELD))
        write_file(os.path.join(scratch, MARKER), record, 0o644 if shared else 0o600)
        # Held before it takes the build's name, so no other start can remove it meanwhile.
        held = -1 if shared else _lock(os.path.join(scratch, MARKER))
        try:
            try:
                os.rename(scratch, target)
            except OSError:
                # Another start of this build renamed its copy first: use that one (checked
                # next).
                if not os.path.lexists(target):
                    raise
            if not shared and not hold(target):
                raise OSError(f"{target} went away as it was unpacked")
        finally:
            if held >= 0:
                os.close(held)
    finally:
        if os.path.lexists(scratch):
            _remove_tree(scratch)


# --- holding this build's copy, removing the others' ------------------------------------------


def _lock(record: str) -> int:
    """``record`` opened and locked shared (waiting while a start that removes it holds it).
    On a file system without locks it is only opened: nothing is held there, and nothing is
    removed either, since a removal must lock the record first."""
    import errno
    import fcntl

    fd = os.open(record, _OPEN_RECORD)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
    except OSError as exc:
        if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
            os.close(fd)
            raise
    except BaseException:
        os.close(fd)
        raise
    return fd


def hold(target: str) -> bool:
    """Lock ``target``'s record shared for the rest of this process (instead of any copy held
    before), so no start of another build removes the copy while this process runs from it.
    False when it has no record, or when the record locked is no longer the one at that path
    (another start removed or replaced the copy while this one waited)."""
    global _held_fd
    record = os.path.join(target, MARKER)
    try:
        fd = _lock(record)
    except OSError:
        return False
    try:
        now = os.lstat(record)
        locked = os.fstat(fd)
    except OSError:
        now = None
    if now is None or (now.st_dev, now.st_ino) != (locked.st_dev, locked.st_ino):
        os.close(fd)
        return False
    if _held_fd >= 0:
        os.close(_held_fd)
    _held_fd = fd
    return True


def remove_unused(root: str) -> None:
    """Remove the copies of other builds under ``root`` that no process holds, and what an
    interrupted removal left. Anything that goes wrong leaves the copy where it is."""
    with os.scandir(root) as entries:
        names = [entry.name for entry in entries]
    for name in names:
        path = os.path.join(root, name)
        if name.endswith(REMOVING):
            _remove_tree(path)
        elif name != BUILD_ID and len(name) == len(BUILD_ID) and not name.strip("0123456789abcdef"):
            _remove_if_unused(path)


def _remove_if_unused(path: str) -> None:
    import fcntl

    try:
        st = os.lstat(path)
        if st.st_mode & _S_IFMT != _S_IFDIR or st.st_uid != _EUID:
            return
        record = _read_record(path)
    except (UntrustedError, OSError):
        return
    if not (isinstance(record, tuple) and len(record) == 5 and record[4] == HELD):
        return  # a build from before the locks: a process running it would not show
    marker = os.path.join(path, MARKER)
    doomed = f"{path}.{os.getpid()}-{os.urandom(4).hex()}{REMOVING}"
    try:
        fd = os.open(marker, _OPEN_RECORD)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.lstat(marker).st_ino != os.fstat(fd).st_ino:
            return
        # Out of the build's name first: a start of that build now unpacks afresh instead of
        # finding half a tree.
        os.rename(path, doomed)
    except OSError:  # BlockingIOError: a process runs that build
        return
    finally:
        os.close(fd)
    _remove_tree(doomed)
    print(f"{APP_NAME}: removed {path}, an earlier build no process runs", file=sys.stderr)


def _remove_tree(top: str) -> None:
    """Delete ``top`` and everything under it, following no symbolic link; what cannot be
    deleted is skipped quietly (another start may be removing it too)."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

    def clear(dir_fd: int) -> None:
        with os.scandir(dir_fd) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        fd = os.open(entry.name, flags, dir_fd=dir_fd)
                        try:
                            clear(fd)
                        finally:
                            os.close(fd)
                        os.rmdir(entry.name, dir_fd=dir_fd)
                    else:
                        os.unlink(entry.name, dir_fd=dir_fd)

    with contextlib.suppress(OSError):
        fd = os.open(top, flags)
        try:
            clear(fd)
        finally:
            os.close(fd)
        os.rmdir(top)


def set_aside(target: str, seen: "os.stat_result") -> None:
    """Move a refused ``target`` out of the way (kept, for whoever wants to know what was
    there), unless it is no longer the entry that was refused: a concurrent start may have
    moved it already and put a good copy in its place."""
    try:
        now = os.lstat(target)
    except FileNotFoundError:
        return
    if (now.st_dev, now.st_ino) == (seen.st_dev, seen.st_ino):
        os.rename(target, f"{target}.{os.getpid()}-{os.urandom(4).hex()}.rejected")


def usable(target: str) -> bool:
    """Whether ``target`` holds a copy that passes ``check_tree``. A copy that fails is set
    aside, with the reason on stderr (Vault's log), for a fresh unpack to take its place."""
    try:
        seen = os.lstat(target)
    except FileNotFoundError:
        return False
    try:
        check_tree(target, seen, precise=True)
        return True
    except (UntrustedError, OSError) as why:
        print(f"{APP_NAME}: unpacking afresh, refusing the copy there: {why}", file=sys.stderr)
    set_aside(target, seen)
    return False


def locate(loader: "Any") -> str:
    """The build's checked directory, unpacking it on the build's first start and whenever the
    copy there fails ``check_tree``."""
    readonly = os.environ.get(READONLY_ENV)
    if readonly:
        return locate_readonly(readonly)
    root = unpack_root()
    hint = (
        f"set {UNPACK_ENV} to a directory only this user may write "
        f"(vault plugin register -env={UNPACK_ENV}=/path)"
    )
    try:
        if not os.path.isdir(root):
            make_dirs(root)
        # Symbolic links in the configured path are resolved once: what is checked below, and
        # imported from, is the real path.
        root = os.path.realpath(root)
        check_root(root)
        target = os.path.join(root, BUILD_ID)
        # Held before it is checked: what passes the check cannot be removed afterwards.
        held = hold(target)
        if not (usable(target) and held):
            unpack(loader, target)
            check_tree(target, os.lstat(target), precise=True)
        remove_unused(root)
    except UntrustedError as why:
        raise UnpackError(f"will not run code from {root}: {why}; {hint}") from None
    except OSError as exc:
        raise UnpackError(
            f"cannot unpack the plugin's dependencies into {root}: {exc}; {hint}"
        ) from None
    return target


def locate_readonly(directory: str) -> str:
    """The build's directory under ``directory``, prepared by ``--unpack-to``: checked like an
    unpacked one (sizes only, see ``survey``), never written."""
    root = os.path.realpath(directory)
    target = os.path.join(root, BUILD_ID)
    fix = f"prepare it (as root, or as this user) with `{APP_NAME} {UNPACK_TO} {root}`"
    try:
        check_root(root)
        check_tree(target, os.lstat(target), precise=False)
    except FileNotFoundError:
        raise UnpackError(f"{READONLY_ENV}: {target} does not exist: {fix}") from None
    except (UntrustedError, OSError) as why:
        raise UnpackError(
            f"{READONLY_ENV}: will not run code from {target}: {why}; {fix}"
        ) from None
    return target


def unpack_to(loader: "Any", directory: str) -> None:
    """``--unpack-to DIR``: prepare DIR/<build id> for ``READONLY_ENV``, readable by all and
    writable by this user alone; when it exists already, check every file's sha256 against
    the manifest instead."""
    os.umask(0o022)
    root = os.path.realpath(directory)
    target = os.path.join(root, BUILD_ID)
    try:
        make_dirs(root, 0o755)
        check_root(root)
        if os.path.lexists(target):
            check_tree(target, os.lstat(target), precise=False)
            check_contents(target)
            print(f"{target}: already prepared; every file matches the build's manifest")
        else:
            unpack(loader, target, shared=True)
            check_tree(target, os.lstat(target), precise=False)
            print(f"{target}: prepared")
    except UntrustedError as why:
        raise UnpackError(f"will not use {target}: {why}; remove it and run again") from None
    except OSError as exc:
        raise UnpackError(f"cannot prepare {target}: {exc}") from None
    print(f"run the plugin with {READONLY_ENV}={root}")


def check_contents(top: str) -> None:
    """Every file's sha256 against the manifest: the full check, too slow for every start."""
    import hashlib

    entries = []
    for name, size in survey(top, precise=False).items():
        if size is not None:
            with open(os.path.join(top, name), "rb") as file:
                digest = hashlib.sha256(file.read()).hexdigest()
                executable = bool(os.fstat(file.fileno()).st_mode & 0o100)
            entries.append((name, digest, executable))
    if manifest_digest(entries) != MANIFEST:
        raise UntrustedError(f"the content of {top} does not match the build's manifest")


def main() -> int | str | None:
    loader = globals()["__loader__"]  # this archive's zipimporter (mypy has no name for it)
    try:
        if sys.argv[1:2] == [UNPACK_TO]:
            if len(sys.argv) != 3:
                raise UnpackError(f"usage: {APP_NAME} {UNPACK_TO} DIR")
            unpack_to(loader, sys.argv[2])
            return 0
        site = locate(loader)
    except UnpackError as exc:
        print(f"{APP_NAME}: {exc}", file=sys.stderr)
        return 1
    # The archive holds no importable module: the unpacked directory takes its place. Nothing
    # may be written into it (a new file would fail the next start's check): all the bytecode
    # ships compiled.
    sys.dont_write_bytecode = True
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
