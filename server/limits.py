"""The limits Kith enforces and advertises, in one place.

The media pipeline, the status and poll use cases and the instance entities all read these, so
what `/api/v2/instance` promises is what the endpoints accept. Values follow Mastodon's defaults
unless a comment says otherwise.
"""

from __future__ import annotations

MAX_MEDIA_ATTACHMENTS = 4
MAX_FEATURED_TAGS = 10
MAX_PINNED_STATUSES = 5

# Images: the upload's size, and the pixel count an image is scaled down to (not refused above).
IMAGE_SIZE_LIMIT = 16 * 1024 * 1024
IMAGE_MATRIX_LIMIT = 8_294_400  # 3840 x 2160 pixels
# The largest image decoded at all (a 50-megapixel camera's): above it an upload is refused from
# its header, before decoding, so a decompression bomb never allocates its pixels.
IMAGE_DECODE_PIXEL_LIMIT = 50_000_000
# Avatars and headers (Mastodon allows 2 MB; phones' photos are larger, and they are scaled down).
AVATAR_SIZE_LIMIT = 8 * 1024 * 1024
# Videos and audio (used only where ffmpeg is installed).
VIDEO_SIZE_LIMIT = 99 * 1024 * 1024
VIDEO_FRAME_RATE_LIMIT = 120
VIDEO_MATRIX_LIMIT = 8_294_400
MEDIA_DESCRIPTION_LIMIT = 1500

# Poll defaults (an instance may configure its own option count; see the poll use cases).
POLL_MAX_OPTIONS = 4
POLL_MAX_CHARACTERS_PER_OPTION = 50
POLL_MIN_EXPIRATION = 300
POLL_MAX_EXPIRATION = 2_629_746
