"""RFC 9421 HTTP Message Signatures, with RSA PKCS#1 v1.5 SHA-256 (`rsa-v1_5-sha256`).

Kith signs what Fedify signs by default, minus its redundant `host` header:
`sig1=("@method" "@target-uri" "@authority" ["content-digest"] "date");created=...;keyid="...";
alg="rsa-v1_5-sha256"`. That satisfies Mastodon's verifier too (it requires `created`,
`@method`, `@target-uri`, and `content-digest` on a POST).

Verification accepts any covered set that pins the request down: the method, the target
(`@target-uri`, or `@path`/`@request-target` with `@authority` or `host`; `@path` with `@query`
when the request has a query), a time (`created` or a covered `date`) and, for anything with a
body, `content-digest`. Of several signatures the first one with an RSA v1.5 SHA-256 (or
unstated) algorithm is verified; only one, so a request costs at most one RSA operation per key
it names.

`Signature-Input`, `Signature` and `Content-Digest` are RFC 8941 structured fields; the small
parser below reads the dictionaries, inner lists and items they use, and the serializer
reproduces `@signature-params` canonically, as the signature base requires.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from federation.signatures.common import (
    Claim,
    SignatureError,
    SigningKey,
    authority,
    carries_body,
    check_expires,
    check_host,
    check_signed_at,
    from_timestamp,
    http_date,
    malformed,
    normalize_url,
    parse_http_date,
    request_target,
    rsa_sign,
    unauthorized,
)
from federation.signatures.digest import check_body, content_digest_header

SCHEME = "rfc9421"
ALGORITHM = "rsa-v1_5-sha256"
LABEL = "sig1"


# --- RFC 8941 structured fields (the subset signatures use) -------------------------------


class Token(str):
    """A token (serialized bare), as opposed to a string (serialized quoted)."""


BareItem = int | bool | str | bytes
Params = dict[str, BareItem]


@dataclass
class Item:
    value: BareItem
    params: Params = field(default_factory=dict)


@dataclass
class InnerList:
    items: list[Item]
    params: Params = field(default_factory=dict)


_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_INTEGER = re.compile(r"-?[0-9]{1,15}(?![0-9.])")
_BYTES = re.compile(r":([A-Za-z0-9+/=]*):")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self) -> SignatureError:
        return malformed(f"unparseable structured field: {self.text!r}")

    def peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def skip(self, chars: str) -> None:
        while self.peek() and self.peek() in chars:
            self.pos += 1

    def expect(self, pattern: re.Pattern[str]) -> re.Match[str]:
        match = pattern.match(self.text, self.pos)
        if match is None:
            raise self.fail()
        self.pos = match.end()
        return match

    def dictionary(self) -> dict[str, Item | InnerList]:
        members: dict[str, Item | InnerList] = {}
        self.skip(" ")
        while self.pos < len(self.text):
            key = self.expect(_KEY).group()
            if self.peek() == "=":
                self.pos += 1
                members[key] = self.inner_list() if self.peek() == "(" else self.item()
            else:
                members[key] = Item(True, self.params())
            self.skip(" \t")
            if self.pos == len(self.text):
                break
            if self.peek() != ",":
                raise self.fail()
            self.pos += 1
            self.skip(" \t")
            if self.pos == len(self.text):
                raise self.fail()
        return members

    def inner_list(self) -> InnerList:
        self.pos += 1
        items: list[Item] = []
        while True:
            self.skip(" ")
            if self.peek() == ")":
                self.pos += 1
                return InnerList(items, self.params())
            items.append(self.item())
            if self.peek() not in (" ", ")"):
                raise self.fail()

    def item(self) -> Item:
        return Item(self.bare_item(), self.params())

    def params(self) -> Params:
        params: Params = {}
        while self.peek() == ";":
            self.pos += 1
            self.skip(" ")
            key = self.expect(_KEY).group()
            if self.peek() == "=":
                self.pos += 1
                params[key] = self.bare_item()
            else:
                params[key] = True
        return params

    def bare_item(self) -> BareItem:
        char = self.peek()
        if char == '"':
            return self.string()
        if char == ":":
            try:
                return base64.b64decode(self.expect(_BYTES).group(1), validate=True)
            except binascii.Error as exc:
                raise self.fail() from exc
        if char == "?":
            flag = self.text[self.pos + 1 : self.pos + 2]
            if flag not in ("0", "1"):
                raise self.fail()
            self.pos += 2
            return flag == "1"
        if char == "-" or char.isdigit():
            return int(self.expect(_INTEGER).group())
        return Token(self.expect(_TOKEN).group())

    def string(self) -> str:
        chars = []
        self.pos += 1
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == "\\":
                escaped = self.peek()
                if escaped not in ('"', "\\"):
                    raise self.fail()
                chars.append(escaped)
                self.pos += 1
            elif char == '"':
                return "".join(chars)
            elif not " " <= char <= "~":
                raise self.fail()
            else:
                chars.append(char)
        raise self.fail()


def parse_dictionary(text: str) -> dict[str, Item | InnerList]:
    return _Parser(text).dictionary()


def _serialize_bare(value: BareItem) -> str:
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int | Token):
        return str(value)
    if isinstance(value, bytes):
        return f":{base64.b64encode(value).decode('ascii')}:"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _serialize_params(params: Params) -> str:
    return "".join(
        f";{key}" if value is True else f";{key}={_serialize_bare(value)}"
        for key, value in params.items()
    )


def serialize_inner_list(inner: InnerList) -> str:
    items = " ".join(_serialize_bare(i.value) + _serialize_params(i.params) for i in inner.items)
    return f"({items}){_serialize_params(inner.params)}"


# --- signature base --------------------------------------------------------------------------


def _component(name: str, method: str, url: str, fields: dict[str, str]) -> str:
    if name == "@method":
        return method.upper()
    if name == "@target-uri":
        return normalize_url(url)
    if name == "@authority":
        return authority(url)
    if name == "@scheme":
        return urlsplit(url).scheme.lower()
    if name == "@request-target":
        return request_target(url)
    if name == "@path":
        return request_target(url, with_query=False)
    if name == "@query":
        return f"?{urlsplit(url).query}"
    if name.startswith("@"):
        raise unauthorized(f"unsupported derived component {name}")
    if name not in fields:
        raise unauthorized(f"{name} is signed but the header is missing")
    return fields[name]


def signature_base(
    method: str, url: str, fields: dict[str, str], components: list[str], signature_params: str
) -> bytes:
    """RFC 9421 §2.5: one `"name": value` line per covered component, then
    `"@signature-params"`. `fields` has lower-case names and combined values."""
    lines = [f'"{name}": {_component(name, method, url, fields)}' for name in components]
    lines.append(f'"@signature-params": {signature_params}')
    return "\n".join(lines).encode()


# --- signing and reading ---------------------------------------------------------------------


def sign(
    method: str,
    url: str,
    *,
    body: bytes | None,
    key: SigningKey,
    content_type: str,
    now: datetime,
) -> dict[str, str]:
    headers = {"Host": authority(url), "Date": http_date(now)}
    components = ["@method", "@target-uri", "@authority"]
    if body is not None:
        headers["Content-Digest"] = content_digest_header(body)
        headers["Content-Type"] = content_type
        components.append("content-digest")
    components.append("date")
    params: Params = {"created": int(now.timestamp()), "keyid": key.key_id, "alg": ALGORITHM}
    signature_params = serialize_inner_list(InnerList([Item(c) for c in components], params))
    fields = {name.lower(): value for name, value in headers.items()}
    base = signature_base(method, url, fields, components, signature_params)
    signature = base64.b64encode(rsa_sign(key.private_key, base)).decode("ascii")
    headers["Signature-Input"] = f"{LABEL}={signature_params}"
    headers["Signature"] = f"{LABEL}=:{signature}:"
    return headers


def _choose(
    inputs: dict[str, Item | InnerList], signatures: dict[str, Item | InnerList]
) -> tuple[InnerList, bytes]:
    for label, member in inputs.items():
        signature = signatures.get(label)
        if not isinstance(member, InnerList) or signature is None:
            continue
        alg = member.params.get("alg")
        if alg is not None and alg != ALGORITHM:
            continue
        if not isinstance(signature, Item) or not isinstance(signature.value, bytes):
            raise malformed(f"signature {label} is not a byte sequence")
        return member, signature.value
    raise unauthorized(f"no signature with algorithm {ALGORITHM}")


def _covered(member: InnerList) -> list[str]:
    names = []
    for item in member.items:
        if not isinstance(item.value, str) or isinstance(item.value, Token):
            raise malformed("covered components must be strings")
        if item.params:
            raise unauthorized(f"component parameters are not supported ({item.value})")
        names.append(item.value)
    if len(set(names)) != len(names):
        raise malformed("a component is covered twice")
    return names


def _missing(covered: set[str], params: Params, needs_digest: bool, has_query: bool) -> list[str]:
    missing = []
    if "@method" not in covered:
        missing.append("@method")
    if not covered & {"@target-uri", "@request-target", "@path"}:
        missing.append("@target-uri")
    # `@path` leaves the query out: on a request with one, the query must be covered too, or a
    # signed GET of one page could be replayed for any other.
    if has_query and not covered & {"@target-uri", "@request-target", "@query"}:
        missing.append("@query")
    if not covered & {"@target-uri", "@authority", "host"}:
        missing.append("@authority")
    if "created" not in params and "date" not in covered:
        missing.append("created or date")
    if needs_digest and "content-digest" not in covered:
        missing.append("content-digest")
    return missing


def _integer(params: Params, name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise malformed(f"{name} is not an integer")
    return value


def read(method: str, url: str, fields: dict[str, str], body: bytes | None, now: datetime) -> Claim:
    """Checks an RFC 9421 signature's coverage, freshness and Content-Digest, and returns what
    remains to be verified with the key."""
    if "signature" not in fields:
        raise unauthorized("Signature-Input without Signature")
    member, signature = _choose(
        parse_dictionary(fields["signature-input"]), parse_dictionary(fields["signature"])
    )
    params = member.params
    key_id = params.get("keyid")
    if not isinstance(key_id, str) or not key_id:
        raise unauthorized("signature has no keyid")
    covered = _covered(member)
    missing = _missing(set(covered), params, carries_body(method, body), bool(urlsplit(url).query))
    if missing:
        raise unauthorized(f"signature does not cover {', '.join(missing)}")

    check_host(fields, url)
    created, expires = _integer(params, "created"), _integer(params, "expires")
    if created is not None:
        check_signed_at(from_timestamp(created), now, "signature creation time")
    if expires is not None:
        check_expires(expires, now)
    if "date" in covered:
        if "date" not in fields:
            raise unauthorized("date is signed but the Date header is missing")
        check_signed_at(parse_http_date(fields["date"]), now, "Date")
    if "content-digest" in covered:
        if "content-digest" not in fields:
            raise unauthorized("content-digest is signed but the header is missing")
        offered = {
            name: entry.value
            for name, entry in parse_dictionary(fields["content-digest"]).items()
            if isinstance(entry, Item) and isinstance(entry.value, bytes)
        }
        check_body(offered, body or b"", "Content-Digest")

    base = signature_base(method, url, fields, covered, serialize_inner_list(member))
    return Claim(SCHEME, key_id, signature, (base,))
