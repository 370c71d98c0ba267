"""Every public error of loopcap, here and nowhere else.

Messages name the file, device or app and say what to do, without naming command-line flags: a
client that has a control for the fix (the CLI's flag) adds its own hint from ``option``.
"""

from __future__ import annotations


class LoopcapError(Exception):
    """An expected failure: bad input, a missing device or tool. Its message says what to do."""

    exit_code = 1

    def __init__(self, message: str = "", *, option: str | None = None) -> None:
        super().__init__(message)
        #: The parameter that would fix this (``"overwrite"``, ``"format"``, …), if one would.
        self.option = option


class UsageError(LoopcapError):
    """The command line asks for something that cannot be done as asked."""

    exit_code = 2


class FfmpegError(LoopcapError):
    """ffmpeg is missing, lacks an encoder, or failed on a file."""

    #: ffmpeg's whole error output, when it ran and failed.
    details: str = ""


class AudioSourceError(LoopcapError):
    """No audio server, no loopback source, or a source that vanished for good."""


class OutputError(LoopcapError):
    """The output file or folder cannot be written."""


class ScreenSourceError(LoopcapError):
    """No display, no such monitor or window, or a region that is not on the screen."""


class DiskFullError(OutputError):
    """The disk (or quota) holding an output is full."""


class SettingsError(LoopcapError):
    """A settings file or value that loopcap cannot use."""


class NoteSettingsError(LoopcapError):
    """Note settings that are each in range but do not work together."""


class ArchiveError(LoopcapError):
    """A chat export archive that is unreadable or unsafe to read."""


class UnattributedNotesError(LoopcapError):
    """A chat export whose chat text names no sender or time for some of its notes."""

    def __init__(self, message: str, notes: tuple[str, ...], *, option: str | None = None) -> None:
        super().__init__(message, option=option)
        self.notes = notes


class NotRunning(LoopcapError):
    """No loopcap instance answers on the control channel."""


class AlreadyRunning(LoopcapError):
    """Another loopcap instance of this user is running."""


class RuntimeFolderError(LoopcapError):
    """The folder for the instance lock and control key is not private to this user."""


class RecordingCutShort(OutputError):
    """A recording stopped early (its disk filled up) but what was recorded is saved at ``path``."""

    def __init__(self, message: str, path: object) -> None:
        super().__init__(message)
        self.path = path
