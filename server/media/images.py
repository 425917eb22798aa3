"""Still images, in a pool worker: decode, orient, strip, scale, preview, blurhash (Pillow).

Nothing of the uploaded file survives but its pixels (and its ICC colour profile, which says how
to read them): every processed file is a fresh image re-encoded from decoded pixels, so EXIF
(GPS, camera serial, time), XMP, IPTC, comments and PNG text chunks are gone whatever container
carried them. The EXIF orientation is applied to the pixels first, so nothing is lost with it.

Decompression bombs (a small file that decodes to billions of pixels) are refused from the
header, before any pixel is decoded: Pillow checks `Image.MAX_IMAGE_PIXELS` when it opens a file,
and its warning between the limit and twice the limit is turned into an error too.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import blurhash
from PIL import Image, ImageOps
from pillow_heif import register_heif_opener

from server.limits import IMAGE_DECODE_PIXEL_LIMIT, IMAGE_MATRIX_LIMIT, IMAGE_SIZE_LIMIT
from server.media.processed import MediaRefused, Processed, Purpose, StoredFile, dimensions
from storage.media_files import MediaStore

PREVIEW_BOX = (640, 640)
# Mastodon's sizes: avatars are cropped to a square, headers to a 3:1 banner.
CROPS: dict[str, tuple[int, int]] = {"avatar": (400, 400), "header": (1500, 500)}
JPEG_QUALITY = 85
# Blurhash components (Mastodon's 4 x 3), computed from a thumbnail: the hash only keeps a few
# cosine components, and encoding a full-size image would take seconds for the same string.
BLURHASH_COMPONENTS = (4, 3)
BLURHASH_SOURCE_BOX = (64, 64)

# The only decoder Pillow may use for each sniffed kind: a file is never handed to a decoder
# for a format it did not announce.
_FORMATS = {
    "jpeg": "JPEG",
    "png": "PNG",
    "gif": "GIF",
    "webp": "WEBP",
    "heif": "HEIF",
    "avif": "AVIF",
}


def _prepare_pillow() -> None:
    register_heif_opener()
    Image.MAX_IMAGE_PIXELS = IMAGE_DECODE_PIXEL_LIMIT


def is_animated(source: Path, kind: str) -> bool:
    """Whether a GIF, WebP or PNG has more than one frame (read from its headers)."""
    if kind not in ("gif", "webp", "png"):
        return False
    _prepare_pillow()
    try:
        with _quiet(), Image.open(source, formats=[_FORMATS[kind]]) as image:
            return bool(getattr(image, "is_animated", False))
    except Exception:
        return False  # processing reports what is wrong with the file


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Turn Pillow's decompression-bomb warning into an error (see the module docstring)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def open_image(
    source: Path, kind: str, matrix_limit: int | None = None, draft: bool = False
) -> Image.Image:
    """The first frame of `source`, decoded, oriented by its EXIF tag, in RGB or RGBA, scaled
    down to at most `matrix_limit` pixels, carrying nothing from the file but its ICC profile.

    With `draft`, a JPEG decodes at a reduced scale (libjpeg's DCT scaling) when the result is
    at least 2x smaller than the picture anyway (pass the matrix an avatar is cut from)."""
    if kind not in _FORMATS:
        raise MediaRefused("Validation failed: this file is not an image Kith can read")
    _prepare_pillow()
    try:
        with _quiet(), Image.open(source, formats=[_FORMATS[kind]]) as image:
            if draft and matrix_limit is not None and kind == "jpeg":
                image.draft("RGB", _fit_matrix(image.width, image.height, matrix_limit))
            image.load()
            icc = image.info.get("icc_profile") if image.mode in ("RGB", "RGBA", "P") else None
            ImageOps.exif_transpose(image, in_place=True)
            alpha = image.mode in ("RGBA", "LA", "PA", "La") or (
                image.mode == "P" and "transparency" in image.info
            )
            mode = "RGBA" if alpha else "RGB"
            decoded = image if image.mode == mode else image.convert(mode)
            if matrix_limit is not None:
                size = _fit_matrix(decoded.width, decoded.height, matrix_limit)
                if size != decoded.size:
                    # Hamming: as sharp as Lanczos for a downscale this mild, in 60% of the time.
                    decoded = decoded.resize(size, Image.Resampling.HAMMING, reducing_gap=3.0)
            # A plain image of the pixels alone (what convert and resize return): nothing the
            # file's decoder carried (EXIF, XMP, comments, text chunks) comes along.
            clean = decoded.copy() if decoded is image else decoded
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as bomb:
        raise MediaRefused(_too_large(bomb)) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError):
        raise MediaRefused("Validation failed: the image file is corrupt or truncated") from None
    clean.info = {"icc_profile": icc} if icc else {}
    return clean


def _too_large(bomb: Exception) -> str:
    """Pillow's refusal, in our words: its message names the image's pixel count."""
    found = re.search(r"\((\d+) pixels\)", str(bomb))
    size = f"{int(found.group(1)):,} pixels; " if found else ""
    return (
        f"Validation failed: image is too large to decode ({size}at most "
        f"{IMAGE_DECODE_PIXEL_LIMIT:,} pixels)"
    )


def _encode(image: Image.Image, lossless: bool) -> tuple[bytes, str, str]:
    """The image as (bytes, content type, extension); only the ICC profile is written along."""
    buffer = io.BytesIO()
    options: dict[str, Any] = {}
    if image.info.get("icc_profile"):
        options["icc_profile"] = image.info["icc_profile"]
    if lossless or image.mode == "RGBA":
        image.save(buffer, format="PNG", **options)
        return buffer.getvalue(), "image/png", "png"
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, **options)
    return buffer.getvalue(), "image/jpeg", "jpg"


def _fit_matrix(width: int, height: int, limit: int) -> tuple[int, int]:
    """`width` x `height` scaled down (aspect kept) to at most `limit` pixels."""
    if width * height <= limit:
        return width, height
    scale = math.sqrt(limit / (width * height))
    return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))


def _store(store: MediaStore, written: list[str], image: Image.Image, lossless: bool) -> StoredFile:
    data, content_type, extension = _encode(image, lossless)
    name = store.new_name(extension)
    written.append(name)
    store.write(name, data)
    return StoredFile(name, content_type, len(data), image.width, image.height)


def blurhash_of(image: Image.Image) -> str:
    tiny = image.copy()
    tiny.thumbnail(BLURHASH_SOURCE_BOX, Image.Resampling.BILINEAR)
    return str(blurhash.encode(tiny.convert("RGB"), *BLURHASH_COMPONENTS))


def preview_of(store: MediaStore, written: list[str], image: Image.Image) -> StoredFile:
    """A preview at most 640 px on its longer side (never larger than the image)."""
    small = image.copy()
    small.thumbnail(PREVIEW_BOX, Image.Resampling.LANCZOS, reducing_gap=2.0)
    return _store(store, written, small, lossless=False)


def process_image(store: MediaStore, source: Path, kind: str, purpose: Purpose) -> Processed:
    """Process a still image (or an animated one's first frame) for `purpose`."""
    if source.stat().st_size > IMAGE_SIZE_LIMIT:
        raise MediaRefused(
            f"Validation failed: an image may be at most {IMAGE_SIZE_LIMIT // (1024 * 1024)} MB"
        )
    written: list[str] = []
    try:
        return _process(store, written, source, kind, purpose)
    except BaseException:
        store.delete(*written)
        raise


def _process(
    store: MediaStore, written: list[str], source: Path, kind: str, purpose: Purpose
) -> Processed:
    lossless = kind in ("png", "gif")
    if purpose in CROPS:
        box = CROPS[purpose]
        # Decoding at least the crop's box in both directions (JPEG's draft keeps both sides
        # above the target), then cutting: a 4x larger matrix than the box is plenty.
        image = open_image(source, kind, max(box) ** 2 * 4, draft=True)
        cropped = ImageOps.fit(image, box, Image.Resampling.LANCZOS)
        cropped.info = dict(image.info)
        original = _store(store, written, cropped, lossless)
        meta = {"original": dimensions(cropped.width, cropped.height)}
        return Processed("image", original, None, None, meta)
    image = open_image(source, kind, IMAGE_MATRIX_LIMIT)
    original = _store(store, written, image, lossless)
    preview = preview_of(store, written, image)
    meta = {
        "original": dimensions(image.width, image.height),
        "small": dimensions(preview.width or 1, preview.height or 1),
    }
    return Processed("image", original, preview, blurhash_of(image), meta)
