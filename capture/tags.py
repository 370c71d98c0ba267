"""Writing tags (title, artist, album, date, encoder) into finished audio files with mutagen.

ffmpeg is told to drop its own metadata; the tags are written here, on the temporary file, before
it is renamed into place, so a finished file always carries them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from capture import __version__
from capture.errors import OutputError

ENCODER = f"loopcap {__version__}"


@dataclass(frozen=True, slots=True)
class Tags:
    title: str = ""
    artist: str = ""
    album: str = ""
    date: str = ""  # ISO 8601, e.g. "2025-10-13" or "2025-10-13T18:24:05"
    comment: str = ""
    encoder: str = ENCODER


def write_tags(path: Path, tags: Tags, *, ogg_vendor: str = "") -> float:
    """Write ``tags`` into ``path`` (MP3, M4A/MP4, Ogg Opus/Vorbis, FLAC or WAV); return its
    duration in seconds as its headers tell (0.0 when it holds no audio).

    ``ogg_vendor`` replaces the vendor string of an Ogg file's comment header.
    """
    import mutagen

    try:
        audio = mutagen.File(str(path))
    except mutagen.MutagenError as exc:
        raise OutputError(f"{path}: cannot write tags: {exc}") from exc
    if audio is None:
        raise OutputError(f"{path}: cannot write tags to this kind of file")
    tags = _as_text(tags)
    kind = type(audio).__name__
    if kind in ("MP3", "WAVE", "AIFF"):
        _write_id3(audio, tags)
    elif kind == "MP4":
        _write_mp4(audio, tags)
    else:  # Ogg Opus, Ogg Vorbis, FLAC: Vorbis comments
        _write_vorbis(audio, tags)
        if ogg_vendor:
            audio.tags.vendor = ogg_vendor
    audio.save()
    info = getattr(audio, "info", None)
    return float(getattr(info, "length", 0.0) or 0.0)


def _as_text(tags: Tags) -> Tags:
    """Tags that can be written as Unicode: a value taken from a file name that is not UTF-8
    (surrogate escapes) is read as Latin-1, what such names mostly are."""

    def text(value: str) -> str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogateescape").decode("latin-1")
        return value

    return Tags(**{k: text(getattr(tags, k)) for k in Tags.__dataclass_fields__})


def _write_id3(audio: object, tags: Tags) -> None:
    from mutagen import id3

    if getattr(audio, "tags", None) is None:
        audio.add_tags()  # type: ignore[attr-defined]
    frames = audio.tags  # type: ignore[attr-defined]
    pairs = (
        (id3.TIT2, tags.title),
        (id3.TPE1, tags.artist),
        (id3.TALB, tags.album),
        (id3.TDRC, tags.date),
        (id3.TENC, tags.encoder),
        (id3.TSSE, tags.encoder),
    )
    for frame, value in pairs:
        frames.delall(frame.__name__)
        if value:
            frames.add(frame(encoding=3, text=[value]))
    frames.delall("COMM")
    if tags.comment:
        frames.add(id3.COMM(encoding=3, lang="eng", desc="", text=[tags.comment]))  # type: ignore[no-untyped-call]


def _write_mp4(audio: object, tags: Tags) -> None:
    keys = {
        "\xa9nam": tags.title,
        "\xa9ART": tags.artist,
        "\xa9alb": tags.album,
        "\xa9day": tags.date,
        "\xa9too": tags.encoder,
        "\xa9cmt": tags.comment,
    }
    if audio.tags is None:  # type: ignore[attr-defined]
        audio.add_tags()  # type: ignore[attr-defined]
    for key, value in keys.items():
        audio.tags.pop(key, None)  # type: ignore[attr-defined]
        if value:
            audio.tags[key] = [value]  # type: ignore[attr-defined]


def _write_vorbis(audio: object, tags: Tags) -> None:
    keys = {
        "TITLE": tags.title,
        "ARTIST": tags.artist,
        "ALBUM": tags.album,
        "DATE": tags.date,
        "ENCODER": tags.encoder,
        "COMMENT": tags.comment,
    }
    if audio.tags is None:  # type: ignore[attr-defined]
        audio.add_tags()  # type: ignore[attr-defined]
    for key, value in keys.items():
        if value:
            audio.tags[key] = [value]  # type: ignore[attr-defined]
        elif key in audio.tags:  # type: ignore[attr-defined]
            del audio.tags[key]  # type: ignore[attr-defined]


def read_tags(path: Path) -> dict[str, str]:
    """The common tags of a file as plain strings (for tests and `loopcap` listings)."""
    import mutagen

    audio = mutagen.File(str(path), easy=True)
    if audio is None or audio.tags is None:
        return {}
    if type(audio).__name__ in ("WAVE", "AIFF"):  # no easy interface: plain ID3 frames
        frames = {"TIT2": "title", "TPE1": "artist", "TALB": "album", "TDRC": "date"}
        found = {frames[k]: str(v.text[0]) for k, v in audio.tags.items() if k in frames}
        comments = audio.tags.getall("COMM")
        if comments:
            found["comment"] = str(comments[0].text[0])
        return found
    return {k: str(v[0]) for k, v in audio.tags.items() if v}
