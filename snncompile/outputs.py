"""Every file and directory the CLI writes goes through this module: one contract for all commands.

Files (``write_file``)
  The bytes go to a temporary sibling ``.NAME.snncompile-tmp``, created with ``O_CREAT|O_EXCL|O_NOFOLLOW``
  (so the temporary is also the lock: a second writer of the same target fails with ``OutputError``, exit
  2), are flushed and fsync'd, and the temporary is renamed over the target; the folder is fsync'd after.
  Only a regular file (or nothing) is replaced: a symbolic link, directory, device, FIFO or socket at the
  target is refused.  Every step is relative to the folder's descriptor and never follows a link in the
  last component, so a link planted inside an output folder cannot redirect a write.

Directories (``write_directory``)
  Built in a temporary sibling ``.NAME.snncompile-tmp/`` (``mkdir`` is the lock) and renamed into place.
  Each carries ``MANIFEST`` (tool name, version, kind, the files it holds).  An existing directory is
  replaced only with ``force=True`` and only if its manifest says this tool wrote it and it holds nothing
  but the files listed there (and ``products``, the files later commands add, e.g. ``ledger.json``); never
  the current directory or one of its ancestors.  The swap is atomic where the kernel has ``renameat2``
  (``RENAME_NOREPLACE`` when nothing was there, so a directory created meanwhile is never replaced;
  ``RENAME_EXCHANGE`` otherwise); the old directory is then emptied file by file, never by a recursive
  delete.

Permissions: files are created 0o666 and directories 0o777 less the umask, as ``open``/``mkdir`` give
(a replaced file keeps its mode).  Interrupts: temporaries are removed on any exception, including
``KeyboardInterrupt`` and ``snncompile.interrupts.Terminated`` (SIGTERM).
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import stat
from typing import BinaryIO, Callable, Iterable, Optional, Union

from snncompile.errors import InputError
from snncompile import __version__

MANIFEST = "snncompile-manifest.json"
TOOL = "snncompile"
Data = Union[bytes, str, Callable[[BinaryIO], None]]

_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2
_AT_FDCWD = -100


class OutputError(InputError):
    """An output location the tool refuses to write (exit 2)."""


# -- files --------------------------------------------------------------------------------------------------

def write_file(path: Union[str, os.PathLike], data: Data) -> str:
    """Write ``data`` (bytes, text as UTF-8, or ``fn(binary_file)``) to ``path`` atomically; returns ``path``."""
    path = os.fspath(path)
    folder, name = _split(path)
    dfd = _open_folder(folder, path)
    try:
        _write_at(dfd, name, data, shown=path)
    finally:
        os.close(dfd)
    return path


def check_file_target(path: Union[str, os.PathLike], *, inputs: Iterable[Optional[str]] = ()) -> str:
    """Refuse now what ``write_file(path)`` would refuse later (so a long run does not end in a refusal),
    and an output that is one of the command's ``inputs`` (``check m.pt -o m.pt`` must not eat the model)."""
    path = os.fspath(path)
    for given in inputs:
        if given and os.path.exists(given) and os.path.exists(path) and os.path.samefile(given, path):
            raise OutputError(f"{path} is also an input of this command ({given}); choose another output")
    folder, name = _split(path)
    dfd = _open_folder(folder, path)
    try:
        _existing_mode(dfd, name, path)
        if _present(dfd, _tmp_name(name)):
            raise _busy(path, _tmp_name(name))
    finally:
        os.close(dfd)
    return path


def check_directory_target(path: Union[str, os.PathLike], *, force: bool = False) -> str:
    """Refuse now what ``write_directory(path, force=force)`` would refuse later."""
    path = os.path.abspath(os.fspath(path))
    folder, name = _split(path)
    dfd = _open_folder(folder, path)
    try:
        _approve_replacement(dfd, name, path, force)
        if _present(dfd, _tmp_name(name)):
            raise _busy(path, _tmp_name(name))
    finally:
        os.close(dfd)
    return path


def ensure_dir(path: Union[str, os.PathLike]) -> str:
    """Make sure the folder ``path`` exists (created 0o777 less the umask); refuse a non-directory."""
    path = os.fspath(path)
    try:
        os.mkdir(path)
    except FileExistsError:
        if not os.path.isdir(path):
            raise OutputError(f"{path} exists and is not a directory") from None
    except FileNotFoundError:
        raise OutputError(f"{path}: folder {os.path.dirname(os.path.abspath(path))} does not exist") from None
    except OSError as e:
        raise OutputError(f"{path}: cannot create the folder ({e.strerror})") from None
    return path


def _split(path: str) -> tuple[str, str]:
    folder, name = os.path.split(os.path.abspath(path))
    if not name or name in (".", ".."):
        raise OutputError(f"{path}: not a file name")
    return folder, name


def _open_folder(folder: str, shown: str) -> int:
    try:
        return os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        raise OutputError(f"{shown}: folder {folder} does not exist") from None
    except NotADirectoryError:
        raise OutputError(f"{shown}: {folder} is not a folder") from None
    except OSError as e:
        raise OutputError(f"{shown}: cannot open folder {folder} ({e.strerror})") from None


def _existing_mode(dfd: int, name: str, shown: str) -> Optional[int]:
    """The mode of the regular file ``name`` (None when absent); refuse anything but a regular file."""
    try:
        st = os.lstat(name, dir_fd=dfd)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(f"{shown} exists and is {_kind(st.st_mode)}; snncompile replaces only regular files")
    return stat.S_IMODE(st.st_mode)


def _kind(mode: int) -> str:
    for test, what in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return "not a regular file"


def _tmp_name(name: str) -> str:
    return f".{name}.snncompile-tmp"


def _busy(shown: str, tmp: str) -> OutputError:
    return OutputError(f"{shown}: another snncompile run is writing it ({tmp} exists beside it; "
                       f"delete that if no run is active)")


def _write_at(dfd: int, name: str, data: Data, *, shown: str) -> None:
    mode = _existing_mode(dfd, name, shown)
    tmp = _tmp_name(name)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666, dir_fd=dfd)
    except FileExistsError:
        raise _busy(shown, tmp) from None
    except OSError as e:
        raise OutputError(f"{shown}: cannot write ({e.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            _fill(fh, data)
            fh.flush()
            os.fsync(fh.fileno())
            if mode is not None:
                os.fchmod(fh.fileno(), mode)
        _swap_in(dfd, tmp, name, replacing=mode is not None, shown=shown, regular=True)
        os.fsync(dfd)
    except BaseException:
        _unlink_quietly(dfd, tmp)
        raise


def _fill(fh: BinaryIO, data: Data) -> None:
    if isinstance(data, str):
        fh.write(data.encode("utf-8"))
    elif isinstance(data, (bytes, bytearray, memoryview)):
        fh.write(data)
    else:
        data(fh)


def _unlink_quietly(dfd: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=dfd)
    except OSError:
        pass


# -- atomic swap --------------------------------------------------------------------------------------------

def _renameat2(dfd: int, src: str, dst: str, flags: int) -> bool:
    """``renameat2`` within one folder; False where the C library or the file system lacks it."""
    fn = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if fn is None:
        return False
    if fn(dfd, os.fsencode(src), dfd, os.fsencode(dst), ctypes.c_uint(flags)) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), dst)


def _present(dfd: int, name: str) -> bool:
    try:
        os.lstat(name, dir_fd=dfd)
    except FileNotFoundError:
        return False
    return True


def _swap_in(dfd: int, tmp: str, name: str, *, replacing: bool, shown: str, regular: bool) -> None:
    """Rename ``tmp`` to ``name``.  Nothing there at the start: never replace what appeared meanwhile.
    Something there: exchange, check that what came out is what was approved, and remove it."""
    if not replacing:
        try:
            if _renameat2(dfd, tmp, name, _RENAME_NOREPLACE):
                return
        except FileExistsError:
            raise OutputError(f"{shown} was created by someone else while snncompile was writing it") from None
        if _present(dfd, name):
            raise OutputError(f"{shown} was created by someone else while snncompile was writing it")
        os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        return
    if regular:
        try:
            exchanged = _renameat2(dfd, tmp, name, _RENAME_EXCHANGE)
        except FileNotFoundError:  # removed meanwhile: nothing left to protect
            exchanged = False
        if not exchanged:
            _existing_mode(dfd, name, shown)
            os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
            return
        st = os.lstat(tmp, dir_fd=dfd)
        if not stat.S_ISREG(st.st_mode):  # swapped for something else meanwhile: put it back
            _renameat2(dfd, tmp, name, _RENAME_EXCHANGE)
            raise OutputError(f"{shown} became {_kind(st.st_mode)} while snncompile was writing it")
        os.unlink(tmp, dir_fd=dfd)
        return
    raise AssertionError("directories are swapped by write_directory")


# -- directories --------------------------------------------------------------------------------------------

class DirectoryWriter:
    """Writes the files of a directory being built; every file goes through the file contract."""

    def __init__(self, dfd: int, shown: str):
        self._dfd = dfd
        self._shown = shown
        self.files: list[str] = []

    def file(self, name: str, data: Data) -> None:
        if os.sep in name or name in ("", ".", "..", MANIFEST):
            raise ValueError(f"not a plain file name: {name!r}")
        _write_at(self._dfd, name, data, shown=os.path.join(self._shown, name))
        self.files.append(name)


def write_directory(path: Union[str, os.PathLike], fill: Callable[[DirectoryWriter], None], *, kind: str,
                    force: bool = False, products: Iterable[str] = ()) -> str:
    """Build the directory ``path`` with ``fill(writer)`` and put it in place atomically; returns its
    absolute path.  ``kind`` names what it is (``"lowered"``); ``products`` are files later commands may
    add to it (allowed when ``force`` replaces it)."""

    path = os.path.abspath(os.fspath(path))
    folder, name = _split(path)
    products = tuple(products)
    dfd = _open_folder(folder, path)
    try:
        replacing = _approve_replacement(dfd, name, path, force)
        tmp = _tmp_name(name)
        try:
            os.mkdir(tmp, 0o777, dir_fd=dfd)
        except FileExistsError:
            raise _busy(path, tmp) from None
        try:
            tfd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dfd)
            try:
                writer = DirectoryWriter(tfd, path)
                fill(writer)
                manifest = {"tool": TOOL, "version": __version__, "kind": kind, "files": sorted(writer.files),
                            "products": sorted(products)}
                _write_at(tfd, MANIFEST, json.dumps(manifest, indent=1) + "\n", shown=os.path.join(path, MANIFEST))
                os.fsync(tfd)
            finally:
                os.close(tfd)
            _swap_directory(dfd, tmp, name, path, replacing)
            os.fsync(dfd)
        except BaseException:
            _remove_built(dfd, tmp)
            raise
    finally:
        os.close(dfd)
    return path


def read_manifest(path: Union[str, os.PathLike]) -> Optional[dict]:
    """The manifest of a directory this tool wrote, or None (absent, a link, unreadable, foreign)."""
    try:
        fd = os.open(os.path.join(os.fspath(path), MANIFEST), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode) or os.fstat(fd).st_size > 1 << 20:
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            doc = json.loads(fh.read().decode("utf-8"))
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    ok = isinstance(doc, dict) and doc.get("tool") == TOOL and isinstance(doc.get("files"), list)
    return doc if ok else None


def _approve_replacement(dfd: int, name: str, path: str, force: bool) -> bool:
    """True when ``path`` exists and may be replaced; False when absent; refuse otherwise."""
    try:
        st = os.lstat(name, dir_fd=dfd)
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{path} exists and is {_kind(st.st_mode)}; choose another output directory")
    cwd = os.path.realpath(os.getcwd())
    real = os.path.realpath(path)
    if cwd == real or cwd.startswith(real.rstrip(os.sep) + os.sep) or real == os.sep:
        raise OutputError(f"{path} is the current directory or one of its parents; snncompile never replaces it")
    if not force:
        raise OutputError(f"{path} already exists (--force replaces a directory snncompile wrote)")
    manifest = read_manifest(path)
    if manifest is None:
        raise OutputError(f"{path} was not written by snncompile (no {MANIFEST}); --force replaces only "
                          f"directories snncompile wrote")
    allowed = set(manifest["files"]) | set(manifest.get("products") or ()) | {MANIFEST}
    for entry in sorted(os.listdir(path)):
        est = os.lstat(os.path.join(path, entry))
        if entry not in allowed or not stat.S_ISREG(est.st_mode):
            raise OutputError(f"{path} holds {entry!r}, which snncompile did not write; move it away or "
                              f"choose another output directory")
    return True


def _swap_directory(dfd: int, tmp: str, name: str, path: str, replacing: bool) -> None:
    if not replacing:
        try:
            if _renameat2(dfd, tmp, name, _RENAME_NOREPLACE):
                return
        except (FileExistsError, OSError) as e:
            if isinstance(e, FileExistsError) or e.errno == errno.ENOTEMPTY:
                raise OutputError(f"{path} was created by someone else while snncompile was writing it") from None
            raise
        if _present(dfd, name):
            raise OutputError(f"{path} was created by someone else while snncompile was writing it")
        os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        return
    if _renameat2(dfd, tmp, name, _RENAME_EXCHANGE):
        _remove_built(dfd, tmp)  # the old directory, approved by _approve_replacement
        return
    old = f".{name}.snncompile-old"
    os.rename(name, old, src_dir_fd=dfd, dst_dir_fd=dfd)
    os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    _remove_built(dfd, old)


def _remove_built(dfd: int, name: str) -> None:
    """Remove a directory of plain files this module built or approved: file by file, links not followed,
    then the (then empty) directory; anything unexpected inside is left in place."""
    try:
        sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dfd)
    except OSError:
        return
    try:
        for entry in os.listdir(sub):
            try:
                if not stat.S_ISDIR(os.lstat(entry, dir_fd=sub).st_mode):
                    os.unlink(entry, dir_fd=sub)
            except OSError:
                pass
    finally:
        os.close(sub)
    try:
        os.rmdir(name, dir_fd=dfd)
    except OSError:
        pass
