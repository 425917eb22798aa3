"""Video, audio and animated GIFs, in a pool worker: ffprobe to read, ffmpeg to re-encode.

Every output is a fresh encode, never the upload itself: video (and animated GIFs, Mastodon's
`gifv`) becomes H.264 in MP4 with AAC sound, audio becomes MP3. `-map_metadata -1` on the file
and on each stream drops titles, locations, dates and devices; chapters, subtitles, data streams
and attachments are not mapped at all. A video's preview is a frame taken from the encoded file
and then processed like any image (so it carries no metadata either), which also gives its
blurhash.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

from server.limits import VIDEO_FRAME_RATE_LIMIT, VIDEO_MATRIX_LIMIT, VIDEO_SIZE_LIMIT
from server.media.images import blurhash_of, open_image, preview_of
from server.media.processed import MediaRefused, Processed, StoredFile, dimensions
from storage.media_files import MediaStore

NO_FFMPEG = "Validation failed: video and audio need ffmpeg, which this server does not have"
NO_FFMPEG_ANIMATED = (
    "Validation failed: animated images become videos, which need ffmpeg, which this server "
    "does not have"
)
# The longest any one ffmpeg run may take before the upload is refused.
FFMPEG_TIMEOUT = 600
THREADS = "2"
# The one demuxer ffmpeg may use for each sniffed kind, and files only: never a playlist or a URL
# that a crafted file names.
DEMUXERS = {
    "mp4": "mov",
    "webm": "matroska",
    "avi": "avi",
    "ogg": "ogg",
    "mp3": "mp3",
    "wav": "wav",
    "flac": "flac",
    "gif": "gif",
    "png": "apng",
}
_STRIP = ["-map_metadata", "-1", "-map_metadata:s:v", "-1", "-map_metadata:s:a", "-1"]
_STRIP += ["-map_chapters", "-1", "-sn", "-dn"]


def tools() -> tuple[str, str] | None:
    """The paths of ffmpeg and ffprobe on PATH, or None when either is missing."""
    ffmpeg, ffprobe = shutil.which("ffmpeg"), shutil.which("ffprobe")
    return (ffmpeg, ffprobe) if ffmpeg and ffprobe else None


def _run(command: list[str]) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=FFMPEG_TIMEOUT,
            check=True,
        )
    except subprocess.TimeoutExpired:
        raise MediaRefused("Validation failed: the file took too long to process") from None
    except subprocess.CalledProcessError:
        raise MediaRefused("Validation failed: the file is corrupt or not supported") from None


def _input(kind: str, source: Path) -> list[str]:
    """Read `source` with its kind's demuxer alone: the format whitelist also binds the
    demuxers a container would open inside itself (an AVI's subtitle stream holding an HLS
    playlist is the classic way to make ffmpeg read other files)."""
    demuxer = DEMUXERS[kind]
    return ["-protocol_whitelist", "file", "-format_whitelist", demuxer, "-f", demuxer,
            "-i", f"file:{source}"]  # fmt: skip


def probe(ffprobe: str, kind: str, source: Path) -> dict[str, Any]:
    result = _run(
        [ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
         *_input(kind, source)]
    )  # fmt: skip
    try:
        info = json.loads(result.stdout)
    except ValueError:
        raise MediaRefused("Validation failed: the file is corrupt or not supported") from None
    return info if isinstance(info, dict) else {}


def _streams(info: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The streams of `kind`; cover art in an audio file is not a video stream."""
    return [
        stream
        for stream in info.get("streams", [])
        if stream.get("codec_type") == kind
        and not (stream.get("disposition") or {}).get("attached_pic")
    ]


def _rate(stream: dict[str, Any]) -> Fraction | None:
    for key in ("avg_frame_rate", "r_frame_rate"):
        with contextlib.suppress(ValueError, ZeroDivisionError, TypeError):
            rate = Fraction(stream.get(key, ""))
            if rate > 0:
                return rate
    return None


def _duration(info: dict[str, Any]) -> float | None:
    with contextlib.suppress(ValueError, TypeError):
        return round(float(info.get("format", {}).get("duration")), 3)
    return None


def process_video(store: MediaStore, source: Path, kind: str) -> Processed:
    """Re-encode a video, an audio file, or an animated GIF or PNG (into a `gifv`)."""
    if kind not in DEMUXERS:
        raise MediaRefused("Validation failed: this file is not a video or audio file")
    gifv = kind in ("gif", "png")
    found = tools()
    if found is None:
        raise MediaRefused(NO_FFMPEG)
    ffmpeg, ffprobe = found
    if source.stat().st_size > VIDEO_SIZE_LIMIT:
        raise MediaRefused(
            "Validation failed: a video or audio file may be at most "
            f"{VIDEO_SIZE_LIMIT // (1024 * 1024)} MB"
        )
    info = probe(ffprobe, kind, source)
    videos, audios = _streams(info, "video"), _streams(info, "audio")
    written: list[str] = []
    try:
        if videos:
            return _video(
                store, written, ffmpeg, ffprobe, kind, source, videos[0], bool(audios), gifv
            )
        if audios:
            return _audio(store, written, ffmpeg, ffprobe, kind, source)
    except BaseException:
        store.delete(*written)
        raise
    raise MediaRefused("Validation failed: the file has neither video nor audio")


def _encode(
    store: MediaStore,
    written: list[str],
    ffmpeg: str,
    kind: str,
    source: Path,
    container: str,
    arguments: list[str],
) -> str:
    """Encode `source` with ffmpeg's output `arguments` into a new store file in `container`
    (its extension and ffmpeg format); returns its name, also added to `written`."""
    name = store.new_name(container)
    output = store.incoming().with_suffix(f".{container}")
    command = [ffmpeg, "-nostdin", "-v", "error", "-y", *_input(kind, source), *arguments]
    command += ["-threads", THREADS, "-f", container, str(output)]
    try:
        _run(command)
        written.append(name)
        store.adopt(name, output)
    finally:
        with contextlib.suppress(FileNotFoundError):
            output.unlink()
    return name


def _scale_filter(stream: dict[str, Any]) -> str:
    """Fit VIDEO_MATRIX_LIMIT, and even dimensions (H.264 in 4:2:0 needs them)."""
    width, height = int(stream.get("width") or 0), int(stream.get("height") or 0)
    if width * height > VIDEO_MATRIX_LIMIT:
        scale = (VIDEO_MATRIX_LIMIT / (width * height)) ** 0.5
        return f"scale={int(width * scale) // 2 * 2}:-2"
    return "scale=trunc(iw/2)*2:trunc(ih/2)*2"


def _video(
    store: MediaStore,
    written: list[str],
    ffmpeg: str,
    ffprobe: str,
    kind: str,
    source: Path,
    stream: dict[str, Any],
    has_audio: bool,
    gifv: bool,
) -> Processed:
    rate = _rate(stream)
    if rate is not None and rate > VIDEO_FRAME_RATE_LIMIT:
        raise MediaRefused(
            f"Validation failed: a video may have at most {VIDEO_FRAME_RATE_LIMIT} frames a second"
        )
    audio = ["-map", "0:a:0", "-c:a", "aac", "-b:a", "160k"] if has_audio and not gifv else ["-an"]
    arguments = ["-map", "0:v:0", *audio, *_STRIP, "-vf", _scale_filter(stream)]
    arguments += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]
    arguments += ["-movflags", "+faststart"]
    name = _encode(store, written, ffmpeg, kind, source, "mp4", arguments)
    encoded = probe(ffprobe, "mp4", store.path(name))
    out_stream = _streams(encoded, "video")[0]
    width, height = int(out_stream["width"]), int(out_stream["height"])
    duration = _duration(encoded)
    frame = _frame(ffmpeg, store, store.path(name), duration or 0.0)
    try:
        image = open_image(frame, "png")
    finally:
        frame.unlink()
    preview = preview_of(store, written, image)
    original: dict[str, Any] = dimensions(width, height)
    out_rate = _rate(out_stream)
    if out_rate is not None:
        original["fps"] = round(float(out_rate), 3)
        original["frame_rate"] = f"{out_rate.numerator}/{out_rate.denominator}"
    if duration is not None:
        original["duration"] = duration
    size = store.path(name).stat().st_size
    return Processed(
        "gifv" if gifv else "video",
        StoredFile(name, "video/mp4", size, width, height),
        preview,
        blurhash_of(image),
        {"original": original, "small": dimensions(preview.width or 1, preview.height or 1)},
    )


def _frame(ffmpeg: str, store: MediaStore, video: Path, duration: float) -> Path:
    """A PNG of the frame a second in (or the middle of a shorter video), in `incoming/`."""
    frame = store.incoming().with_suffix(".png")
    at = f"{min(1.0, duration / 2):.3f}"
    try:
        _run([ffmpeg, "-nostdin", "-v", "error", "-y", "-ss", at, *_input("mp4", video),
              "-frames:v", "1", "-f", "image2", "-c:v", "png", str(frame)])  # fmt: skip
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            frame.unlink()
        raise
    return frame


def _audio(
    store: MediaStore, written: list[str], ffmpeg: str, ffprobe: str, kind: str, source: Path
) -> Processed:
    arguments = ["-map", "0:a:0", *_STRIP, "-vn", "-c:a", "libmp3lame", "-q:a", "2"]
    name = _encode(store, written, ffmpeg, kind, source, "mp3", [*arguments, "-id3v2_version", "0"])
    encoded = probe(ffprobe, "mp3", store.path(name))
    stream = _streams(encoded, "audio")[0]
    original: dict[str, Any] = {}
    duration = _duration(encoded)
    if duration is not None:
        original["duration"] = duration
    original["audio_encode"] = "mp3"
    channels = stream.get("channels")
    if isinstance(channels, int) and channels > 0:
        original["audio_channels"] = {1: "mono", 2: "stereo"}.get(channels, f"{channels} channels")
    size = os.path.getsize(store.path(name))
    return Processed(
        "audio",
        StoredFile(name, "audio/mpeg", size, None, None),
        None,
        None,
        {"original": original},
    )
