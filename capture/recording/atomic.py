"""Writing files so that they are either complete or absent: temporary name, then rename.

A file being written is a hidden ``.<name>.<random>.part`` beside its final place (same folder,
so the rename is atomic and never copies). If anything goes wrong before the rename, including
Ctrl+C, the temporary file is removed; a reader never sees half a file under the final name.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from capture.errors import DiskFullError, OutputError

PART_SUFFIX = ".part"
#: The longest file name most filesystems take, in bytes.
NAME_MAX_BYTES = 255
#: Longest file name loopcap makes from a template, in bytes: room left for `` (2)``.
MAX_NAME_BYTES = 240


def _creation_mode() -> int:
    # mkstemp creates files 0600; finished outputs get the mode open() would give them.
    # Read once, at import, because reading the umask briefly changes it for the process.
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _creation_mode()


def is_part_file(path: Path) -> bool:
    """True for loopcap's temporary files (to skip them when scanning folders)."""
    return path.name.startswith(".") and path.name.endswith(PART_SUFFIX)


def temp_path_for(target: Path) -> Path:
    """A new, empty, uniquely named temporary file beside ``target``.

    Its name fits where ``target``'s fits: a long name is shortened in the temporary one.
    """
    # "." + name + "." + 8 random characters + ".part" must fit in NAME_MAX_BYTES.
    room = NAME_MAX_BYTES - 2 - 8 - len(PART_SUFFIX)
    try:
        fd, name = tempfile.mkstemp(
            prefix=f".{shorten_name(target.name, room)}.", suffix=PART_SUFFIX, dir=target.parent
        )
    except OSError as exc:
        raise output_error(target, exc) from exc
    try:
        os.fchmod(fd, _FILE_MODE)
    finally:
        os.close(fd)
    return Path(name)


def shorten_name(name: str, limit: int = MAX_NAME_BYTES) -> str:
    """``name`` cut to ``limit`` bytes of UTF-8 (its extension kept), never inside a character."""
    if len(os.fsencode(name)) <= limit:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > 10:
        stem, extension = name, ""
    tail = f".{extension}" if extension else ""
    return _cut(stem, limit - len(os.fsencode(tail))) + tail


def _cut(text: str, limit: int) -> str:
    """The longest start of ``text`` that takes at most ``limit`` bytes on the disk."""
    kept, size = [], 0
    for char in text:  # by character, so none is cut in half
        size += len(os.fsencode(char))
        if size > limit:
            break
        kept.append(char)
    return "".join(kept).rstrip()


def unique_path(target: Path) -> Path:
    """``target``, or ``name (2).ext``, ``name (3).ext`` … whichever does not exist yet."""
    if not target.exists():
        return target
    for n in range(2, 10_000):
        tail = f" ({n}){target.suffix}"
        stem = _cut(target.stem, NAME_MAX_BYTES - len(os.fsencode(tail)))
        candidate = target.with_name(f"{stem}{tail}")
        if not candidate.exists():
            return candidate
    raise OutputError(f"{target.parent}: too many files named like {target.name}")


def publish(temp: Path, target: Path, *, overwrite: bool, keep_both: bool = False) -> Path:
    """Move a finished temporary file to ``target``; return where it went.

    Without ``overwrite`` an existing ``target`` is never replaced, even if it appeared while we
    worked (``os.link`` fails atomically on an existing name): that is an error, or with
    ``keep_both`` (recordings, which must never be lost) the file becomes ``name (2).ext``.
    """
    try:
        if overwrite:
            temp.replace(target)
            return target
        while True:
            final = unique_path(target) if keep_both else target
            try:
                os.link(temp, final)
            except FileExistsError:
                if keep_both:
                    continue  # taken meanwhile: try the next free name
                raise OutputError(f"{target}: already exists", option="overwrite") from None
            except OSError:  # filesystems without hard links (FAT, some network shares)
                if final.exists():
                    raise OutputError(f"{target}: already exists", option="overwrite") from None
                temp.replace(final)
                return final
            temp.unlink()
            return final
    except OutputError:
        raise
    except OSError as exc:
        raise output_error(target, exc) from exc


@contextlib.contextmanager
def atomic_output(target: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; on a normal exit it becomes ``target``.

    On any exception (KeyboardInterrupt included) the temporary file is deleted and the
    exception propagates.
    """
    temp = temp_path_for(target)
    try:
        yield temp
        publish(temp, target, overwrite=overwrite)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def write_atomically(
    target: Path,
    produce: Callable[[Path], None],
    *,
    overwrite: bool = False,
    keep_both: bool = False,
) -> Path:
    """Let ``produce`` write a temporary file, then publish it as ``target``; return the file."""
    temp = temp_path_for(target)
    try:
        produce(temp)
        return publish(temp, target, overwrite=overwrite, keep_both=keep_both)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def output_error(target: Path, exc: OSError) -> OutputError:
    """An OSError met while writing ``target``, as an actionable loopcap error."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(f"no space left on the disk holding {target.parent}; free some space")
    reason = exc.strerror or str(exc)
    return OutputError(f"cannot write {target}: {reason}")
