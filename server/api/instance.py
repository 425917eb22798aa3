"""The instance endpoints: what a client reads before and after signing in.

`GET /api/v1/instance` and `/api/v2/instance` describe the server (version, limits, registration
mode, rules, contact); `/api/v1/instance/rules` and `/api/v1/instance/peers` list the rules and
the remote domains Kith knows. Like Mastodon, these ignore any token the client sends: a stale
token must not stop a client from reading the version it needs to pick endpoints.
"""

from __future__ import annotations

import functools
import importlib
import shutil
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import web

from federation import content
from server.config import VERSION_STRING, Config
from server.entities.accounts import DEFAULT_HEADER, render_account
from server.json import json_response
from server.limits import (
    IMAGE_MATRIX_LIMIT,
    IMAGE_SIZE_LIMIT,
    MAX_FEATURED_TAGS,
    MAX_MEDIA_ATTACHMENTS,
    MAX_PINNED_STATUSES,
    MEDIA_DESCRIPTION_LIMIT,
    POLL_MAX_CHARACTERS_PER_OPTION,
    POLL_MAX_EXPIRATION,
    POLL_MAX_OPTIONS,
    POLL_MIN_EXPIRATION,
    VIDEO_FRAME_RATE_LIMIT,
    VIDEO_MATRIX_LIMIT,
    VIDEO_SIZE_LIMIT,
)
from server.state import CONFIG, POOL, URLS
from server.usecases import polls
from storage import accounts as account_store
from storage import instance as instance_store
from storage.db import Conn
from storage.settings import get_setting, members_may_invite, registrations_mode

routes = web.RouteTableDef()

IMAGE_MIME_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
HEIF_MIME_TYPES = ("image/heic", "image/heif")
VIDEO_MIME_TYPES = ("video/mp4", "video/quicktime", "video/webm", "video/ogg")
AUDIO_MIME_TYPES = (
    "audio/mpeg",
    "audio/mp4",
    "audio/aac",
    "audio/ogg",
    "audio/wav",
    "audio/flac",
    "audio/webm",
)
# Mastodon's `api_versions.mastodon`: 2 announced grouped notifications (`/api/v2/notifications`,
# Mastodon 4.3), which Kith does not serve yet (issue 13); 1 is the API before that. Clients such
# as Phanpy switch to grouped notifications at 2. See docs/COMPATIBILITY.md.
API_VERSIONS = {"mastodon": 1}
# The instance's icon (Mastodon 4.3's `icon`): the thumbnail image, at its real size.
ICON_SIZE = "300x100"
POLL_LIMITS = {
    "max_options": POLL_MAX_OPTIONS,
    "max_characters_per_option": POLL_MAX_CHARACTERS_PER_OPTION,
    "min_expiration": POLL_MIN_EXPIRATION,
    "max_expiration": POLL_MAX_EXPIRATION,
}

DEFAULT_TITLE = "Kith"
DEFAULT_DESCRIPTION = "A small fediverse community that looks after its members."


@dataclass(frozen=True)
class InstanceInfo:
    """Everything both instance entities show, loaded once per request."""

    domain: str
    base_url: str
    streaming_url: str
    title: str
    description: str
    contact_email: str
    registrations_mode: str
    members_may_invite: bool
    source_url: str
    stats: asyncpg.Record
    rules: list[dict[str, str]]
    contact_account: dict[str, Any] | None
    poll_max_options: int = POLL_MAX_OPTIONS

    @property
    def poll_limits(self) -> dict[str, int]:
        """Mastodon's `configuration.polls`, with the option count this instance allows."""
        return {**POLL_LIMITS, "max_options": self.poll_max_options}

    @property
    def thumbnail(self) -> str:
        return self.base_url + DEFAULT_HEADER

    @property
    def registrations_enabled(self) -> bool:
        """Whether anyone may sign up; in `invite` mode only people with a code may, which
        Mastodon reports as closed registrations with invites."""
        return self.registrations_mode in ("open", "approval")

    @property
    def invites_enabled(self) -> bool:
        """Whether members (not only staff) may invite people who can use the invite."""
        return self.members_may_invite and self.registrations_mode != "closed"


async def _text(db: Conn, key: str, default: str) -> str:
    """An `instance_settings` text value; unset, blank or not text gives `default`."""
    value = await get_setting(db, key)
    return value if isinstance(value, str) and value.strip() else default


def render_rule(row: asyncpg.Record) -> dict[str, str]:
    return {"id": str(row["id"]), "text": row["text"], "hint": row["hint"]}


async def load_instance(app: web.Application) -> InstanceInfo:
    config: Config = app[CONFIG]
    async with app[POOL].acquire() as db:
        contact_id = await instance_store.contact_account_id(db)
        contact = await account_store.get_account(db, contact_id) if contact_id else None
        return InstanceInfo(
            domain=config.domain,
            base_url=config.base_url,
            streaming_url=("ws" if config.insecure_http else "wss") + "://" + config.domain,
            title=await _text(db, "title", DEFAULT_TITLE),
            description=await _text(db, "description", DEFAULT_DESCRIPTION),
            contact_email=await _text(db, "contact_email", ""),
            registrations_mode=await registrations_mode(db),
            members_may_invite=await members_may_invite(db),
            source_url=await _text(db, "source_url", ""),
            stats=await instance_store.stats(db),
            rules=[render_rule(row) for row in await instance_store.list_rules(db)],
            contact_account=render_account(contact, app[URLS]) if contact else None,
            poll_max_options=await polls.max_options(db),
        )


def _statuses_config() -> dict[str, int]:
    return {
        "max_characters": content.MAX_CHARACTERS,
        "max_media_attachments": MAX_MEDIA_ATTACHMENTS,
        "characters_reserved_per_url": content.CHARACTERS_PER_URL,
    }


@functools.cache
def _heif_plugin_imports() -> bool:
    try:
        importlib.import_module("pillow_heif")
    except ImportError:
        return False
    return True


def _media_config() -> dict[str, Any]:
    """What uploads the media pipeline accepts on this machine, read on every request: images
    always (HEIC/HEIF only with the `pillow_heif` plugin), video and audio only where ffmpeg is
    installed, since they are re-muxed through it; without it their limits are zero."""
    mime_types = list(IMAGE_MIME_TYPES)
    if _heif_plugin_imports():
        mime_types += HEIF_MIME_TYPES
    with_ffmpeg = shutil.which("ffmpeg") is not None
    if with_ffmpeg:
        mime_types += VIDEO_MIME_TYPES + AUDIO_MIME_TYPES
    return {
        "supported_mime_types": mime_types,
        "image_size_limit": IMAGE_SIZE_LIMIT,
        "image_matrix_limit": IMAGE_MATRIX_LIMIT,
        "video_size_limit": VIDEO_SIZE_LIMIT if with_ffmpeg else 0,
        "video_frame_rate_limit": VIDEO_FRAME_RATE_LIMIT if with_ffmpeg else 0,
        "video_matrix_limit": VIDEO_MATRIX_LIMIT if with_ffmpeg else 0,
    }


def render_v1(info: InstanceInfo) -> dict[str, Any]:
    """Mastodon's `V1::Instance` entity."""
    return {
        "uri": info.domain,
        "title": info.title,
        "short_description": info.description,
        "description": info.description,
        "email": info.contact_email,
        "version": VERSION_STRING,
        "urls": {"streaming_api": info.streaming_url},
        "stats": {
            "user_count": info.stats["user_count"],
            "status_count": info.stats["status_count"],
            "domain_count": info.stats["domain_count"],
        },
        "thumbnail": info.thumbnail,
        "languages": ["en"],
        "registrations": info.registrations_enabled,
        "approval_required": info.registrations_mode == "approval",
        "invites_enabled": info.invites_enabled,
        "configuration": {
            "accounts": {"max_featured_tags": MAX_FEATURED_TAGS},
            "statuses": _statuses_config(),
            "media_attachments": _media_config(),
            "polls": info.poll_limits,
        },
        "contact_account": info.contact_account,
        "rules": info.rules,
    }


def render_v2(info: InstanceInfo) -> dict[str, Any]:
    """Mastodon's `Instance` entity (API version 2, as of Mastodon 4.3)."""
    return {
        "domain": info.domain,
        "title": info.title,
        "version": VERSION_STRING,
        "source_url": info.source_url,
        "description": info.description,
        "usage": {"users": {"active_month": info.stats["active_month"]}},
        "thumbnail": {"url": info.thumbnail},
        "icon": [{"src": info.thumbnail, "size": ICON_SIZE}],
        "languages": ["en"],
        "configuration": {
            "urls": {"streaming": info.streaming_url},
            # Kith sends no Web Push notifications yet, so there is no VAPID key to offer.
            "vapid": {"public_key": ""},
            "accounts": {
                "max_featured_tags": MAX_FEATURED_TAGS,
                "max_pinned_statuses": MAX_PINNED_STATUSES,
            },
            "statuses": _statuses_config(),
            "media_attachments": {
                **_media_config(),
                "description_limit": MEDIA_DESCRIPTION_LIMIT,
            },
            "polls": info.poll_limits,
            "translation": {"enabled": False},
        },
        "registrations": {
            "enabled": info.registrations_enabled,
            "approval_required": info.registrations_mode == "approval",
            "message": None,
            "url": None,
        },
        "api_versions": dict(API_VERSIONS),
        "contact": {"email": info.contact_email, "account": info.contact_account},
        "rules": info.rules,
    }


# Mastodon.py asks for both versions with a trailing slash.
@routes.get("/api/v1/instance")
@routes.get("/api/v1/instance/")
async def instance_v1(request: web.Request) -> web.Response:
    return json_response(render_v1(await load_instance(request.app)))


@routes.get("/api/v2/instance")
@routes.get("/api/v2/instance/")
async def instance_v2(request: web.Request) -> web.Response:
    return json_response(render_v2(await load_instance(request.app)))


@routes.get("/api/v1/instance/rules")
async def rules(request: web.Request) -> web.Response:
    rows = await instance_store.list_rules(request.app[POOL])
    return json_response([render_rule(row) for row in rows])


@routes.get("/api/v1/instance/peers")
async def peers(request: web.Request) -> web.Response:
    return json_response(await instance_store.list_peers(request.app[POOL]))
