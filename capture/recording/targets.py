"""Where new recordings go: choosing names and checking folders before anything is recorded.

Writing the finished file (temporary name, then rename) is :mod:`capture.recording.atomic`'s job.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from datetime import datetime
from pathlib import Path

from capture.errors import OutputError, UsageError
from capture.ffmpeg import EXTENSION_ALIASES, file_extension, same_container
from capture.recording.atomic import shorten_name, unique_path
from capture.settings import name_template_problem


def file_name_from_template(template: str, when: datetime, extension: str) -> str:
    """The file name a strftime ``template`` gives at ``when``: always a name, never a path.

    Raises OutputError when the template is empty or would make a path (``/``, ``..``); a
    separator that a date field puts in (``%D``) becomes ``-``; a long name is shortened.
    """
    problem = name_template_problem(template)
    if problem:
        raise OutputError(f"the name template {template!r} {problem}")
    name = when.strftime(template).replace("/", "-").replace(os.sep, "-")
    return shorten_name(f"{name}.{extension}")


def check_writable_folder(folder: Path, *, create: bool = False) -> None:
    """Raise OutputError naming ``folder`` unless loopcap can create files in it."""
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create folder {folder}: {exc.strerror}") from exc
    if not folder.is_dir():
        raise OutputError(f"folder {folder} does not exist; create it or choose another with -o")
    probe = folder / f".loopcap-write-test-{secrets.token_hex(4)}"
    try:
        probe.write_bytes(b"")
    except OSError as exc:
        raise OutputError(
            f"cannot write to folder {folder} ({exc.strerror}); choose another with -o"
        ) from exc
    with contextlib.suppress(OSError):
        probe.unlink()


def resolve_output(
    output: str | None,
    fmt: str | None,
    *,
    default_folder: Path,
    default_format: str,
    name_template: str,
    formats: tuple[str, ...],
    overwrite: bool = False,
    now: datetime | None = None,
) -> tuple[Path, str]:
    """The file a new recording will be saved as, and its format.

    The format comes from ``fmt`` or the output's extension, else ``default_format``. An output
    that is a folder gets a dated name inside it. Raises UsageError or OutputError before anything
    is recorded, so a bad command line never costs a recording.
    """
    if fmt is not None and fmt not in formats:
        raise UsageError(f"unknown format '{fmt}'; choose one of {', '.join(formats)}")
    if output is None:
        folder, name, create = default_folder, None, True
    else:
        path = Path(output).expanduser()
        if path.is_dir() or output.endswith(("/", os.sep)):
            folder, name, create = path, None, False
        else:
            folder, name, create = path.parent, path, False
    if name is not None:
        target, fmt = _named_target(name, fmt, default_format, formats)
    else:
        fmt = fmt or default_format
        target = folder / file_name_from_template(
            name_template, now or datetime.now(), file_extension(fmt)
        )
    check_writable_folder(target.parent, create=create)
    if target.exists():
        if name is None:
            target = unique_path(target)
        elif not overwrite:
            raise OutputError(f"{target} already exists; choose another name", option="overwrite")
    return target, fmt


def _named_target(
    name: Path, fmt: str | None, default_format: str, formats: tuple[str, ...]
) -> tuple[Path, str]:
    """The format a named output asks for (by extension or flag), and its final name."""
    extension = name.suffix.lower().lstrip(".")
    alias = EXTENSION_ALIASES.get(extension)
    if alias is not None and alias in formats:
        # e.g. "note.ogg": Ogg Opus under its other name, kept as the user wrote it.
        if fmt is not None and not same_container(fmt, alias):
            raise UsageError(
                f"the format {fmt} does not match the file name {name.name}; use one of them",
                option="format",
            )
        return name, fmt or alias
    if fmt is not None and file_extension(fmt) == extension:
        pass  # e.g. the voice-note format with a .opus name
    elif extension in formats:
        if fmt is not None and fmt != extension:
            raise UsageError(
                f"the format {fmt} does not match the file name {name.name}; use one of them",
                option="format",
            )
        fmt = extension
    elif extension and fmt is None:
        raise UsageError(
            f"unknown format '.{extension}' of {name.name}; use one of "
            f"{', '.join(formats)} or name the format",
            option="format",
        )
    fmt = fmt or default_format
    if name.suffix.lower() == f".{file_extension(fmt)}":
        return name, fmt
    return name.with_name(f"{name.name}.{file_extension(fmt)}"), fmt
