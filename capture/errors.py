"""Named errors whose messages a user can act on. The CLI prints them as one line on stderr."""

from __future__ import annotations


class LoopcapError(Exception):
    """An expected failure: bad input, a missing device or tool. Its message says what to do."""

    exit_code = 1


class UsageError(LoopcapError):
    """The command line asks for something that cannot be done as asked."""

    exit_code = 2


class FfmpegError(LoopcapError):
    """ffmpeg is missing, lacks an encoder, or failed on a file."""


class AudioSourceError(LoopcapError):
    """No audio server, no loopback source, or a source that vanished for good."""


class OutputError(LoopcapError):
    """The output file or folder cannot be written."""


class ScreenSourceError(LoopcapError):
    """No display, no such monitor or window, or a region that is not on the screen."""
