"""The media pipeline on real files: what comes out carries nothing but pixels (or sound), bad
files are refused with a 422 and leave nothing behind, and ffmpeg's work is real (ffmpeg is
installed by `make test`)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import blurhash
import pytest
from PIL import Image

from federation.errors import KithError
from server.limits import IMAGE_DECODE_PIXEL_LIMIT, IMAGE_MATRIX_LIMIT
from server.media import pipeline
from storage.media_files import MediaStore
from tests import media_samples as samples

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module", autouse=True)
def worker_pool():
    """One pool for the module's tests, shut down after them."""
    yield
    asyncio.run(pipeline.close_pool())


@pytest.fixture
def store(tmp_path) -> MediaStore:
    return MediaStore(tmp_path / "media")


def upload(tmp_path: Path, data: bytes, name: str = "upload.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def stored_files(store: MediaStore) -> list[str]:
    """Every file in the store, the incoming folder included."""
    if not store.root.exists():
        return []
    return sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file())


def assert_clean_image(store: MediaStore, name: str) -> Image.Image:
    """The stored image has no metadata at all, by Pillow's reading and in its raw bytes."""
    raw = store.path(name).read_bytes()
    for marker in (samples.SECRET, b"Exif", b"http://ns.adobe.com/xap", b"Photoshop 3.0"):
        assert marker not in raw, marker
    for chunk in (b"tEXt", b"zTXt", b"iTXt", b"eXIf"):
        assert chunk not in raw, chunk
    image = Image.open(io.BytesIO(raw))
    image.load()
    assert not set(image.info) & {"exif", "xmp", "XML:com.adobe.xmp", "comment", "photoshop"}
    assert not image.getexif()
    assert not image.getexif().get_ifd(0x8825)  # GPS
    return image


def test_a_jpeg_loses_gps_exif_xmp_iptc_and_its_comment(tmp_path, store):
    source = upload(tmp_path, samples.jpeg_with_everything(), "photo.jpg")
    before = Image.open(source)
    assert {"exif", "xmp", "photoshop", "comment"} <= set(before.info)
    assert before.getexif().get_ifd(0x8825)  # the sample does carry a position

    processed = asyncio.run(pipeline.process(store, source, "attachment", "image/jpeg"))

    assert processed.type == "image"
    assert processed.original.content_type == "image/jpeg"
    assert processed.preview is not None
    for name in (processed.original.name, processed.preview.name):
        assert_clean_image(store, name)
    assert source.exists()  # the caller's upload is the caller's to delete
    assert stored_files(store) == sorted([processed.original.name, processed.preview.name])


@pytest.mark.parametrize(
    "make, name",
    [
        (samples.png_with_text, "text.png"),
        (samples.webp_with_metadata, "photo.webp"),
        (samples.heic_with_metadata, "photo.heic"),
        (samples.avif_with_metadata, "photo.avif"),
    ],
)
def test_png_text_webp_heic_and_avif_metadata_are_dropped(tmp_path, store, make, name):
    data = make()
    assert data.count(samples.SECRET) >= 1
    processed = asyncio.run(pipeline.process(store, upload(tmp_path, data, name), "attachment"))
    assert processed.type == "image"
    assert processed.preview is not None
    for stored in (processed.original.name, processed.preview.name):
        image = assert_clean_image(store, stored)
        assert image.size[0] > 0


def test_exif_orientation_is_applied_to_the_pixels(tmp_path, store):
    # Orientation 6: the camera was turned; the picture is shown rotated 90 degrees clockwise,
    # so the stored 300x200 picture's red top-left corner ends up top right, 200x300.
    source = upload(tmp_path, samples.jpeg_with_everything(orientation=6), "turned.jpg")
    processed = asyncio.run(pipeline.process(store, source, "attachment"))
    assert (processed.original.width, processed.original.height) == (200, 300)
    image = assert_clean_image(store, processed.original.name).convert("RGB")
    assert image.size == (200, 300)
    red, _, blue = image.getpixel((195, 5))
    assert red > 200 and blue < 60
    red, _, blue = image.getpixel((5, 5))
    assert blue > 200 and red < 60
    assert processed.meta["original"]["size"] == "200x300"


def test_a_large_photo_is_scaled_to_the_matrix_limit_with_a_preview_and_blurhash(tmp_path, store):
    image = Image.new("RGB", (4000, 3000), (255, 0, 0))
    image.paste((0, 0, 255), (2000, 0, 4000, 3000))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    processed = asyncio.run(
        pipeline.process(store, upload(tmp_path, buffer.getvalue(), "big.jpg"), "attachment")
    )
    width, height = processed.original.width, processed.original.height
    assert width is not None and height is not None
    assert width * height <= IMAGE_MATRIX_LIMIT
    assert width * height > IMAGE_MATRIX_LIMIT * 0.99
    assert abs(width / height - 4 / 3) < 0.01
    assert processed.preview is not None
    assert max(processed.preview.width or 0, processed.preview.height or 0) == 640
    assert processed.meta["small"]["width"] == 640
    assert Image.open(store.path(processed.original.name)).size == (width, height)
    # The blurhash decodes back to red on the left, blue on the right.
    assert processed.blurhash is not None
    decoded = blurhash.decode(processed.blurhash, 8, 6).convert("RGB")
    left, right = decoded.getpixel((0, 3)), decoded.getpixel((7, 3))
    assert left[0] > left[2] and right[2] > right[0]


def test_a_small_image_keeps_its_size(tmp_path, store):
    processed = asyncio.run(
        pipeline.process(store, upload(tmp_path, samples.png_with_text()), "attachment")
    )
    assert (processed.original.width, processed.original.height) == (300, 200)
    assert processed.original.content_type == "image/png"
    assert processed.preview is not None
    assert (processed.preview.width, processed.preview.height) == (300, 200)


@pytest.mark.parametrize("purpose, size", [("avatar", (400, 400)), ("header", (1500, 500))])
def test_avatars_and_headers_are_cropped_to_mastodons_sizes(tmp_path, store, purpose, size):
    source = upload(
        tmp_path, samples.jpeg_with_everything(image=samples.picture(3000, 2000)), "me.jpg"
    )
    processed = asyncio.run(pipeline.process(store, source, purpose))
    assert (processed.original.width, processed.original.height) == size
    assert processed.preview is None
    assert_clean_image(store, processed.original.name)
    assert stored_files(store) == [processed.original.name]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "not a supported"),
        (b"hello, this is text and not a photo\n" * 20, "not a supported"),
        (samples.jpeg_with_everything()[:600], "corrupt or truncated"),
        (b"\xff\xd8\xff" + b"\x00" * 500, "corrupt or truncated"),
    ],
    ids=["empty", "text", "truncated-jpeg", "jpeg-header-on-garbage"],
)
def test_bad_files_are_refused_and_leave_nothing(tmp_path, store, data, message):
    source = upload(tmp_path, data, "photo.jpg")
    with pytest.raises(KithError) as refused:
        asyncio.run(pipeline.process(store, source, "attachment", "image/jpeg"))
    assert refused.value.status == 422
    assert message in refused.value.message
    assert stored_files(store) == []


@pytest.mark.parametrize("size", [(20000, 20000), (8000, 7000)], ids=["20000x20000", "56MP"])
def test_decompression_bombs_are_refused_from_the_header(tmp_path, store, size):
    # The second is between the limit and twice the limit, where Pillow only warns.
    source = upload(tmp_path, samples.png_bomb(*size), "bomb.png")
    with pytest.raises(KithError) as refused:
        asyncio.run(pipeline.process(store, source, "attachment"))
    assert refused.value.status == 422
    assert refused.value.message == (
        f"Validation failed: image is too large to decode ({size[0] * size[1]:,} pixels;"
        f" at most {IMAGE_DECODE_PIXEL_LIMIT:,} pixels)"
    )
    assert stored_files(store) == []


def test_a_video_cannot_be_an_avatar(tmp_path, store):
    source = samples.video(tmp_path / "clip.mp4")
    with pytest.raises(KithError) as refused:
        asyncio.run(pipeline.process(store, source, "avatar"))
    assert refused.value.status == 422
    assert "must be an image" in refused.value.message


def ffprobe(path: Path) -> dict:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
         str(path)],
        capture_output=True,
        check=True,
    )  # fmt: skip
    return json.loads(result.stdout)


def test_a_video_is_reencoded_without_its_metadata_with_a_preview(tmp_path, store):
    source = samples.video(tmp_path / "clip.mov")
    assert samples.SECRET in source.read_bytes()
    assert pipeline.needs_background(source, "video/quicktime")

    processed = asyncio.run(pipeline.process(store, source, "attachment", "video/quicktime"))

    assert processed.type == "video"
    assert processed.original.content_type == "video/mp4"
    assert (processed.original.width, processed.original.height) == (320, 240)
    output = store.path(processed.original.name)
    assert samples.SECRET not in output.read_bytes()
    info = ffprobe(output)
    tags = info["format"].get("tags", {})
    assert "title" not in tags and "location" not in tags
    codecs = sorted(stream["codec_name"] for stream in info["streams"])
    assert codecs == ["aac", "h264"]
    original = processed.meta["original"]
    assert 2.9 < original["duration"] < 3.2
    assert original["fps"] == 25
    assert processed.preview is not None
    assert_clean_image(store, processed.preview.name)
    assert processed.blurhash
    assert stored_files(store) == sorted([processed.original.name, processed.preview.name])


def test_audio_is_reencoded_to_mp3_without_its_tags(tmp_path, store):
    source = samples.sound(tmp_path / "song.ogg")
    assert samples.SECRET in source.read_bytes()
    assert pipeline.needs_background(source, None)
    processed = asyncio.run(pipeline.process(store, source, "attachment"))
    assert processed.type == "audio"
    assert processed.original.content_type == "audio/mpeg"
    raw = store.path(processed.original.name).read_bytes()
    assert samples.SECRET not in raw
    assert not raw.startswith(b"ID3")
    assert 1.9 < processed.meta["original"]["duration"] < 2.2
    assert processed.preview is None
    assert stored_files(store) == [processed.original.name]


def test_an_animated_gif_becomes_a_gifv(tmp_path, store):
    source = upload(tmp_path, samples.animated_gif(), "funny.gif")
    assert pipeline.needs_background(source, "image/gif")
    processed = asyncio.run(pipeline.process(store, source, "attachment"))
    assert processed.type == "gifv"
    output = store.path(processed.original.name)
    assert samples.SECRET not in output.read_bytes()
    assert [s["codec_type"] for s in ffprobe(output)["streams"]] == ["video"]


def test_a_still_image_is_processed_at_once(tmp_path):
    assert not pipeline.needs_background(
        upload(tmp_path, samples.jpeg_with_everything(), "a.jpg"), "video/mp4"
    )


def test_a_corrupt_video_is_refused_and_leaves_nothing(tmp_path, store):
    data = samples.video(tmp_path / "clip.mp4").read_bytes()
    source = upload(tmp_path, data[:40] + b"\x00" * 2000, "broken.mp4")
    with pytest.raises(KithError) as refused:
        asyncio.run(pipeline.process(store, source, "attachment"))
    assert refused.value.status == 422
    assert stored_files(store) == []


def test_without_ffmpeg_video_and_animations_are_refused_saying_so(tmp_path, store):
    """A real run with a PATH where ffmpeg is not, in a process of its own."""
    clip = samples.video(tmp_path / "clip.mp4")
    gif = upload(tmp_path, samples.animated_gif(), "funny.gif")
    script = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from federation.errors import KithError\n"
        "from server.media import pipeline\n"
        "from storage.media_files import MediaStore\n"
        "store = MediaStore(Path(sys.argv[1]))\n"
        "for source in map(Path, sys.argv[2:]):\n"
        "    print(pipeline.needs_background(source, None))\n"
        "    try:\n"
        "        asyncio.run(pipeline.process(store, source, 'attachment'))\n"
        "    except KithError as error:\n"
        "        print(error.status, error.message)\n"
    )
    environment = dict(os.environ, PATH=str(Path(sys.executable).parent))
    result = subprocess.run(
        [sys.executable, "-c", script, str(store.root), str(clip), str(gif)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.splitlines() == [
        "False",
        "422 Validation failed: video and audio need ffmpeg, which this server does not have",
        "False",
        "422 Validation failed: animated images become videos, which need ffmpeg, which this"
        " server does not have",
    ]
    assert stored_files(store) == []


def test_the_store_refuses_names_it_did_not_make(store):
    name = store.new_name("jpg")
    assert store.path(name).name == name
    for bad in ("../etc/passwd", "a/b.jpg", "photo.jpg", name + "/x", "..", "", name[:-4]):
        with pytest.raises(ValueError):
            store.path(bad)
    with pytest.raises(ValueError):
        store.new_name("../x")


def test_the_store_writes_deletes_and_lists_old_files(store):
    old, new = store.new_name("jpg"), store.new_name("png")
    store.write(old, b"old")
    store.write(new, b"new")
    assert store.path(old).read_bytes() == b"old"
    past = time.time() - 3600
    os.utime(store.path(old), (past, past))
    assert store.names_older_than(60) == [old]
    store.delete(old, None, store.new_name("jpg"))  # a missing file is no error
    assert stored_files(store) == [new]
    leftover = store.incoming()
    leftover.write_bytes(b"partial")
    os.utime(leftover, (past, past))
    assert store.sweep_incoming(60) == 1
    assert stored_files(store) == [new]


def test_the_incoming_paths_are_fresh_and_inside_the_store(store):
    first, second = store.incoming(), store.incoming()
    assert first != second
    assert first.parent == second.parent == store.root / "incoming"


def test_a_bomb_is_refused_before_its_pixels_are_decoded(tmp_path, store):
    """The 20000x20000 bomb's IDAT is cut short: refusing it never needs to read the pixels."""
    bomb = samples.png_bomb(20000, 20000)
    header_only = bomb[:33] + struct.pack(">I", 10) + b"IDAT" + b"\x00" * 14
    source = upload(tmp_path, header_only, "bomb.png")
    with pytest.raises(KithError) as refused:
        asyncio.run(pipeline.process(store, source, "attachment"))
    assert "image is too large to decode" in refused.value.message


CONTAINERS = {
    "webm": ("video", ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-f", "lavfi",
                       "-i", "sine", "-t", "1", "-c:v", "libvpx", "-c:a", "libopus"]),
    "avi": ("video", ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "1"]),
    "apng": ("gifv", ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=5", "-t", "1",
                      "-plays", "0"]),
    "wav": ("audio", ["-f", "lavfi", "-i", "sine", "-t", "1"]),
    "flac": ("audio", ["-f", "lavfi", "-i", "sine", "-t", "1"]),
    "mp3": ("audio", ["-f", "lavfi", "-i", "sine", "-t", "1", "-c:a", "libmp3lame"]),
    "m4a": ("audio", ["-f", "lavfi", "-i", "sine", "-t", "1", "-c:a", "aac"]),
}  # fmt: skip


@pytest.mark.parametrize("extension", sorted(CONTAINERS))
def test_other_containers_are_read(tmp_path, store, extension):
    kind, arguments = CONTAINERS[extension]
    source = samples.ffmpeg_sample(tmp_path / f"sample.{extension}", *arguments)
    processed = asyncio.run(pipeline.process(store, source, "attachment"))
    assert processed.type == kind
    assert processed.original.content_type == ("audio/mpeg" if kind == "audio" else "video/mp4")


def test_a_playlist_behind_an_mp3_header_reads_no_local_file(tmp_path, store):
    """An ID3 tag in front of an HLS playlist naming a local video: ffmpeg left to guess skips
    the tag, follows the playlist and encodes the local file (a way to leak a server's files);
    with the sniffed kind's demuxer alone the upload is refused."""
    private = samples.ffmpeg_sample(
        tmp_path / "private.ts", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "1"
    )
    playlist = (
        "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-TARGETDURATION:10\n"
        f"#EXTINF:10.0,\nfile://{private}\n#EXT-X-ENDLIST\n"
    )
    id3 = b"ID3\x04\x00\x00\x00\x00\x00\x00"  # an empty ID3v2.4 tag
    source = upload(tmp_path, id3 + playlist.encode(), "song.mp3")
    with pytest.raises(KithError) as refused:
        asyncio.run(pipeline.process(store, source, "attachment"))
    assert refused.value.status == 422
    assert stored_files(store) == []
