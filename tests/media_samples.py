"""Sample uploads built on the spot: photos carrying every kind of metadata, broken files, bombs,
and (with ffmpeg) short videos and sounds. Every metadata value contains `SECRET`, so a test can
search a processed file's bytes for it."""

from __future__ import annotations

import io
import struct
import subprocess
import zlib
from pathlib import Path

from PIL import ExifTags, Image, ImageDraw
from PIL.PngImagePlugin import PngInfo
from pillow_heif import register_heif_opener

SECRET = b"SECRET"
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>SECRET-XMP</rdf:RDF></x:xmpmeta>'


def exif(orientation: int = 1) -> Image.Exif:
    """EXIF with a camera, a GPS position (the Eiffel tower) and `orientation`."""
    data = Image.Exif()
    data[ExifTags.Base.Make] = "SECRET-CAMERA"
    data[ExifTags.Base.Orientation] = orientation
    gps = data.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 29.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 17.0, 40.0)
    return data


def picture(width: int = 300, height: int = 200) -> Image.Image:
    """A picture whose top-left corner is red and the rest blue, to see rotations."""
    image = Image.new("RGB", (width, height), (0, 0, 255))
    ImageDraw.Draw(image).rectangle((0, 0, width // 4, height // 4), fill=(255, 0, 0))
    return image


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _iptc() -> bytes:
    """A Photoshop APP13 block with an IPTC caption."""
    caption = b"SECRET-IPTC"
    record = b"\x1c\x02\x78" + struct.pack(">H", len(caption)) + caption
    block = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(record)) + record
    return b"Photoshop 3.0\x00" + block


def jpeg_with_everything(orientation: int = 1, image: Image.Image | None = None) -> bytes:
    """A JPEG with EXIF (GPS), XMP, IPTC and a comment; the last three assembled by hand."""
    buffer = io.BytesIO()
    (image or picture()).save(
        buffer, format="JPEG", exif=exif(orientation).tobytes(), comment=b"SECRET-COMMENT"
    )
    data = buffer.getvalue()
    extra = _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + XMP) + _segment(0xED, _iptc())
    return data[:2] + extra + data[2:]


def png_with_text() -> bytes:
    info = PngInfo()
    info.add_text("Comment", "SECRET-PNG-TEXT")
    info.add_text("Author", "SECRET-AUTHOR", zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    buffer = io.BytesIO()
    picture().save(buffer, format="PNG", pnginfo=info, exif=exif().tobytes())
    return buffer.getvalue()


def webp_with_metadata() -> bytes:
    buffer = io.BytesIO()
    picture().save(buffer, format="WEBP", exif=exif().tobytes(), xmp=XMP)
    return buffer.getvalue()


def heic_with_metadata() -> bytes:
    register_heif_opener()
    buffer = io.BytesIO()
    picture().save(buffer, format="HEIF", exif=exif().tobytes(), xmp=XMP)
    return buffer.getvalue()


def avif_with_metadata() -> bytes:
    buffer = io.BytesIO()
    picture().save(buffer, format="AVIF", exif=exif().tobytes(), xmp=XMP)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_bomb(width: int, height: int) -> bytes:
    """A real, valid 1-bit PNG of `width` x `height` black pixels: tiny, huge once decoded."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte, then the packed pixels
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", pixels)
        + _png_chunk(b"IEND", b"")
    )


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (64, 48), color) for color in ((255, 0, 0), (0, 255, 0))]
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=frames[1:],
        duration=100,
        loop=0,
        comment=b"SECRET-GIF",
    )
    return buffer.getvalue()


def ffmpeg_sample(path: Path, *arguments: str) -> Path:
    """Make `path` with ffmpeg from lavfi test sources."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", *arguments, str(path)],
        check=True,
        capture_output=True,
    )
    return path


def video(path: Path) -> Path:
    """Three seconds of 320x240 at 25 fps with sound, tagged with a title and a location."""
    return ffmpeg_sample(
        path,
        *("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"),
        *("-f", "lavfi", "-i", "sine=frequency=440"),
        *("-t", "3", "-c:v", "libx264", "-c:a", "aac", "-pix_fmt", "yuv420p"),
        *("-metadata", "title=SECRET-TITLE", "-metadata", "location=+48.8577+002.2950/"),
        *("-metadata:s:v", "handler_name=SECRET-HANDLER"),
    )


def sound(path: Path) -> Path:
    """Two seconds of Ogg Vorbis tagged with an artist."""
    return ffmpeg_sample(
        path,
        *("-f", "lavfi", "-i", "sine=frequency=440", "-t", "2"),
        *("-metadata", "artist=SECRET-ARTIST", "-c:a", "libvorbis"),
    )
