"""draft-cavage-http-signatures-12, the scheme the fediverse actually runs on.

The signed string is one `name: value` line per entry of the `headers` parameter, joined with
"\\n". What is required here is what Mastodon requires and sends: the request target, `host`,
`date` (or hs2019's `(created)`), and `digest` for anything with a body. `algorithm` is either
"rsa-sha256" or "hs2019" (which leaves the algorithm to the key: RSA keys mean PKCS#1 v1.5 with
SHA-256); a missing one means hs2019, as Mastodon reads it.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime

from federation.signatures.common import (
    Claim,
    SigningKey,
    authority,
    carries_body,
    check_expires,
    check_host,
    check_signed_at,
    from_timestamp,
    http_date,
    malformed,
    parse_http_date,
    request_target,
    rsa_sign,
    unauthorized,
)
from federation.signatures.digest import check_body, digest_header, parse_digest_header

SCHEME = "cavage"
ALGORITHMS = ("rsa-sha256", "hs2019")

# name="quoted value" or name=bare-number, separated by commas.
_PARAM = re.compile(r'\s*([A-Za-z]+)\s*=\s*(?:"([^"]*)"|([^",\s]*))\s*(?:,|$)')


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
    lines = [
        f"(request-target): {method.lower()} {request_target(url)}",
        f"host: {headers['Host']}",
        f"date: {headers['Date']}",
    ]
    names = "(request-target) host date"
    if body is not None:
        headers["Digest"] = digest_header(body)
        headers["Content-Type"] = content_type
        lines.append(f"digest: {headers['Digest']}")
        names += " digest"
    signature = base64.b64encode(rsa_sign(key.private_key, "\n".join(lines).encode()))
    headers["Signature"] = (
        f'keyId="{key.key_id}",algorithm="rsa-sha256",headers="{names}",'
        f'signature="{signature.decode("ascii")}"'
    )
    return headers


def parse_params(value: str) -> dict[str, str]:
    """The parameters of a `Signature` header (or `Authorization: Signature ...`), names
    lower-cased."""
    params: dict[str, str] = {}
    position = 0
    while position < len(value):
        match = _PARAM.match(value, position)
        if match is None or match.end() == position:
            raise malformed("unparseable Signature header")
        name, quoted, bare = match.groups()
        params[name.lower()] = quoted if quoted is not None else bare
        position = match.end()
    return params


def _signature_value(fields: dict[str, str]) -> str:
    if "signature" in fields:
        return fields["signature"]
    scheme, _, rest = fields.get("authorization", "").partition(" ")
    if scheme.lower() != "signature":
        raise unauthorized("request is not signed")
    return rest


def _timestamp(params: dict[str, str], name: str) -> int:
    try:
        return int(params[name])
    except KeyError as exc:
        raise unauthorized(f"({name}) is signed but the {name} parameter is missing") from exc
    except ValueError as exc:
        raise malformed(f"{name} parameter is not a number") from exc


def read(method: str, url: str, fields: dict[str, str], body: bytes | None, now: datetime) -> Claim:
    """Checks a draft-cavage signature's parameters, freshness and digest, and returns what
    remains to be verified with the key."""
    params = parse_params(_signature_value(fields))
    key_id, encoded = params.get("keyid"), params.get("signature")
    if not key_id or not encoded:
        raise malformed("Signature header lacks keyId or signature")
    algorithm = params.get("algorithm", "hs2019").lower()
    if algorithm not in ALGORITHMS:
        raise unauthorized(f"unsupported signature algorithm {algorithm!r}")
    hs2019 = algorithm == "hs2019"
    signed = params.get("headers", "(created)" if hs2019 else "date").lower().split()

    required = {"(request-target)", "host"}
    if carries_body(method, body):
        required.add("digest")
    missing = sorted(required.difference(signed))
    if not ("date" in signed or (hs2019 and "(created)" in signed)):
        missing.append("date")
    if missing:
        raise unauthorized(f"signature does not cover {', '.join(missing)}")

    check_host(fields, url)
    if "date" in signed:
        if "date" not in fields:
            raise unauthorized("date is signed but the Date header is missing")
        check_signed_at(parse_http_date(fields["date"]), now, "Date")
    if "(created)" in signed:
        created = _timestamp(params, "created")
        check_signed_at(from_timestamp(created), now, "signature creation time")
    if "expires" in params:
        check_expires(_timestamp(params, "expires"), now)
    if "digest" in signed:
        if "digest" not in fields:
            raise unauthorized("digest is signed but the Digest header is missing")
        check_body(parse_digest_header(fields["digest"]), body or b"", "Digest")

    try:
        signature = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise malformed("signature is not base64") from exc

    # Some senders (Fedify, older Mastodon) sign the request target without its query; that
    # second candidate exists only for URLs with a query, and is tried only if the first fails.
    targets = dict.fromkeys((request_target(url), request_target(url, with_query=False)))
    messages = tuple(
        _signed_string(signed, method, target, fields, params, url, hs2019).encode()
        for target in targets
    )
    return Claim(SCHEME, key_id, signature, messages)


def _signed_string(
    signed: list[str],
    method: str,
    target: str,
    fields: dict[str, str],
    params: dict[str, str],
    url: str,
    hs2019: bool,
) -> str:
    lines = []
    for name in signed:
        if name == "(request-target)":
            value = f"{method.lower()} {target}"
        elif name in ("(created)", "(expires)"):
            if not hs2019:
                raise unauthorized(f"{name} is only defined for hs2019")
            _timestamp(params, name[1:-1])
            value = params[name[1:-1]]
        elif name in fields:
            value = fields[name]
        elif name == "host":
            value = authority(url)
        else:
            raise unauthorized(f"{name} is signed but the header is missing")
        lines.append(f"{name}: {value}")
    return "\n".join(lines)
