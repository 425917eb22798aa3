"""What both signature schemes share: the key and result types, the error, the time window, and
the RSA operations.

Both schemes end in the same place: a key id, the bytes that were signed and the signature.
`Claim` is that common shape, so fetching the key, counting verifications and retrying after a
key rotation happen once, in `verify_request`, whichever scheme the request used.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

# Mastodon's window: a signature may be up to 12 hours old (deliveries are retried from queues)
# and up to an hour in the future (clocks drift).
MAX_AGE = timedelta(hours=12)
MAX_SKEW = timedelta(hours=1)

# (key_id, refresh) -> (owner_uri, public_key_pem), or None when the key cannot be had.
# `refresh` asks the loader to skip its stored copy and fetch the key again (a rotation).
KeyLoader = Callable[[str, bool], Awaitable[tuple[str, str] | None]]


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    private_key: RSAPrivateKey


@dataclass(frozen=True)
class Verified:
    key_id: str
    owner_uri: str
    scheme: str  # "cavage" | "rfc9421"


class SignatureError(Exception):
    """A request whose signature cannot be accepted.

    `status` is 401 when the signature is missing, insufficient, stale, unsupported or does not
    verify (a body that does not match its signed digest is one of these: the signature does not
    cover this request), and 400 only when a header cannot be parsed at all. Senders that
    double-knock (Fedify: RFC 9421 first, then draft-cavage) retry after a 401.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def unauthorized(reason: str) -> SignatureError:
    return SignatureError(401, reason)


def malformed(reason: str) -> SignatureError:
    return SignatureError(400, reason)


@dataclass(frozen=True)
class Claim:
    """What a request says about itself once its headers have been checked: who signed it and
    which bytes. `messages` holds more than one candidate only where senders are known to
    disagree on what they sign (a draft-cavage request target with or without the query)."""

    scheme: str
    key_id: str
    signature: bytes
    messages: tuple[bytes, ...]


def collect_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-cased names; repeated fields joined with ", " as both schemes prescribe
    (`headers` may be a multi-dict such as aiohttp's)."""
    fields: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        value = value.strip()
        fields[key] = f"{fields[key]}, {value}" if key in fields else value
    return fields


def now_utc(now: datetime | None) -> datetime:
    return now.astimezone(UTC) if now is not None else datetime.now(UTC)


def http_date(moment: datetime) -> str:
    """RFC 7231's IMF-fixdate, e.g. "Tue, 24 Nov 2026 03:30:00 GMT"."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def parse_http_date(value: str) -> datetime:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError) as exc:
        raise malformed(f"unparseable Date header: {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_signed_at(signed_at: datetime, now: datetime, what: str) -> None:
    if signed_at < now - MAX_AGE:
        raise unauthorized(f"{what} is more than 12 hours old")
    if signed_at > now + MAX_SKEW:
        raise unauthorized(f"{what} is more than an hour in the future")


def from_timestamp(seconds: int) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise malformed(f"timestamp out of range: {seconds}") from exc


def check_expires(expires: int, now: datetime) -> None:
    if from_timestamp(expires) + MAX_SKEW < now:
        raise unauthorized("signature has expired")


def carries_body(method: str, body: bytes | None) -> bool:
    """Whether the signature must cover a digest of the body: any body at all, and every method
    but GET and HEAD even when empty (a POST whose digest is unsigned could carry anything)."""
    return bool(body) or method.upper() not in ("GET", "HEAD")


def request_target(url: str, *, with_query: bool = True) -> str:
    parts = urlsplit(url)
    path = parts.path or "/"
    return f"{path}?{parts.query}" if with_query and parts.query else path


def authority(url: str) -> str:
    """host[:port] of an http(s) URL, lower-cased, without a default port: what `Host` and
    RFC 9421's `@authority` carry."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return host if port is None or port == default else f"{host}:{port}"


def check_host(fields: dict[str, str], url: str) -> None:
    """The Host the request carries must name the URL it is verified against. Callers build
    `url` from this instance's own origin, so a request signed for another server and replayed
    here is refused even though its signature is genuine."""
    host = fields.get("host")
    if host is None:
        return
    try:
        named = authority(f"{urlsplit(url).scheme}://{host}")
    except ValueError as exc:
        raise malformed(f"unparseable Host header: {host!r}") from exc
    if named != authority(url):
        raise unauthorized(f"request is for {host}, not {authority(url)}")


def normalize_url(url: str) -> str:
    """Scheme and authority normalised (lower case, no default port, "/" for an empty path), path
    and query left as sent: the form both sides of RFC 9421's `@target-uri` can agree on."""
    return f"{urlsplit(url).scheme.lower()}://{authority(url)}{request_target(url)}"


def rsa_sign(key: RSAPrivateKey, message: bytes) -> bytes:
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def rsa_verify(key: RSAPublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
