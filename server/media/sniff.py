"""What a file really is, from its first bytes: the client's file name and type are only claims.

The kinds are the formats the pipeline accepts; anything else is `None` and refused. Decoding
still decides in the end (a JPEG header on garbage fails there), this only picks the decoder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

Kind = Literal[
    "jpeg", "png", "gif", "webp", "heif", "avif", "mp4", "webm", "avi", "ogg", "mp3", "wav", "flac"
]

IMAGE_KINDS: frozenset[str] = frozenset({"jpeg", "png", "gif", "webp", "heif", "avif"})
HEAD_BYTES = 64

# ISO base media (`....ftyp<brand>`): the major brand tells HEIF and AVIF images from MP4 and
# QuickTime video and M4A audio.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip"}


def sniff(path: Path) -> Kind | None:
    with open(path, "rb") as file:
        return sniff_bytes(file.read(HEAD_BYTES))


def sniff_bytes(head: bytes) -> Kind | None:
    kind: Kind | None = None
    if head.startswith(b"\xff\xd8\xff"):
        kind = "jpeg"
    elif head.startswith(b"\x89PNG\r\n\x1a\n"):
        kind = "png"
    elif head[:6] in (b"GIF87a", b"GIF89a"):
        kind = "gif"
    elif head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        kind = "webp"
    elif head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        kind = "wav"
    elif head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        kind = "avi"
    elif head[4:8] == b"ftyp":
        brand = head[8:12]
        kind = "heif" if brand in _HEIF_BRANDS else "avif" if brand in _AVIF_BRANDS else "mp4"
    elif head[4:8] in _QUICKTIME_ATOMS:
        kind = "mp4"  # an old QuickTime file, without `ftyp`
    elif head.startswith(b"\x1a\x45\xdf\xa3"):
        kind = "webm"  # Matroska and WebM
    elif head.startswith(b"OggS"):
        kind = "ogg"
    elif head.startswith(b"fLaC"):
        kind = "flac"
    elif head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        kind = "mp3"  # an ID3 tag, or an MPEG audio frame's sync bits
    return kind
