"""Request parameters as Mastodon clients send them.

Clients send the same parameters as a query string, a form (urlencoded or multipart) or a JSON
body, and arrays as `name[]=a&name[]=b`, `name=a b` or JSON lists; nested objects as
`fields_attributes[0][name]=...`. `Params` merges all of these into one typed reader, so handlers
never touch the raw request.
"""

from __future__ import annotations

import builtins
import math
import re
from datetime import timedelta
from typing import Any, overload
from urllib.parse import urlsplit

import orjson
from aiohttp import web

from federation.errors import KithError
from federation.excerpt import excerpt
from server.json import MAX_BODY_BYTES

_TRUE = {"1", "true", "on", "yes", "t"}
_FALSE = {"0", "false", "off", "no", "f", ""}
_NESTED_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])+)$")
# Every integer a handler gets fits an SQL bigint.
MIN_BIGINT, MAX_BIGINT = -(2**63), 2**63 - 1
# The longest duration (`expires_in`, `duration`) a client may ask for: a hundred years. Anything
# longer is "forever" in practice, and now + a duration must still be a datetime (year 9999).
MAX_DURATION = timedelta(days=36525)


def _set_nested(target: dict[str, Any], key: str, value: Any) -> None:
    """Expand `a[0][b]=v` / `a[]=v` form keys into nested dicts and lists."""
    match = _NESTED_KEY.match(key)
    if not match:
        target[key] = value
        return
    parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
    node: Any = target
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        nxt = None if last else parts[index + 1]
        if part == "":
            # `name[]` appends to a list held by the parent.
            raise KithError(400, f"Malformed parameter name {excerpt(key)}")
        if last:
            if isinstance(node, dict):
                if nxt is None and key.endswith("[]"):
                    node.setdefault(part, []).append(value)
                else:
                    node[part] = value
            return
        if nxt == "":
            existing = node.get(part) if isinstance(node, dict) else None
            if not isinstance(existing, list):
                existing = []
                node[part] = existing
            existing.append(value)
            return
        child = node.get(part) if isinstance(node, dict) else None
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child


class Params:
    """Typed access to merged query and body parameters.

    The readers are named after the types they return (`str`, `int`, `bool`, `list`, `dict`),
    which shadows those builtins in the class body: annotations here spell them `builtins.*`.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __contains__(self, name: str) -> bool:
        return name in self.data

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    @overload
    def str(
        self, name: builtins.str, default: None = None, *, max_length: builtins.int | None = None
    ) -> builtins.str | None: ...

    @overload
    def str(
        self, name: builtins.str, default: builtins.str, *, max_length: builtins.int | None = None
    ) -> builtins.str: ...

    def str(
        self,
        name: builtins.str,
        default: builtins.str | None = None,
        *,
        max_length: builtins.int | None = None,
    ) -> builtins.str | None:
        value = self.data.get(name)
        if value is None:
            return default
        if isinstance(value, bool | int | float):
            value = str(value).lower() if isinstance(value, bool) else str(value)
        if not isinstance(value, str):
            raise KithError(422, f"Validation failed: {name} must be a string")
        if max_length is not None and len(value) > max_length:
            raise KithError(422, f"Validation failed: {name} is too long (max {max_length})")
        return value

    def required_str(
        self, name: builtins.str, *, max_length: builtins.int | None = None
    ) -> builtins.str:
        value = self.str(name, max_length=max_length)
        if value is None or value == "":
            raise KithError(422, f"Validation failed: {name} can't be blank")
        return value

    @overload
    def bool(self, name: builtins.str, default: None = None) -> builtins.bool | None: ...

    @overload
    def bool(self, name: builtins.str, default: builtins.bool) -> builtins.bool: ...

    def bool(
        self, name: builtins.str, default: builtins.bool | None = None
    ) -> builtins.bool | None:
        value = self.data.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise KithError(422, f"Validation failed: {name} must be a boolean")

    @overload
    def int(
        self,
        name: builtins.str,
        default: None = None,
        *,
        minimum: builtins.int | None = None,
        maximum: builtins.int | None = None,
    ) -> builtins.int | None: ...

    @overload
    def int(
        self,
        name: builtins.str,
        default: builtins.int,
        *,
        minimum: builtins.int | None = None,
        maximum: builtins.int | None = None,
    ) -> builtins.int: ...

    def int(
        self,
        name: builtins.str,
        default: builtins.int | None = None,
        *,
        minimum: builtins.int | None = None,
        maximum: builtins.int | None = None,
    ) -> builtins.int | None:
        """A whole number, clamped to `minimum`/`maximum` when given (as Mastodon does with
        `limit`); one that is still beyond an SQL bigint is refused (422), never passed on."""
        value = self.data.get(name)
        if value is None or value == "":
            return default
        number = _integer(name, value)
        if minimum is not None:
            number = max(number, minimum)
        if maximum is not None:
            number = min(number, maximum)
        if not MIN_BIGINT <= number <= MAX_BIGINT:
            raise KithError(422, f"Validation failed: {name} is out of range")
        return number

    def duration(self, name: builtins.str) -> timedelta | None:
        """A number of seconds (`expires_in`) as a timedelta; None when absent, empty or 0.

        Refused (422) when negative or longer than `MAX_DURATION`."""
        seconds = self.int(name)
        if not seconds:
            return None
        if not 0 < seconds <= MAX_DURATION.total_seconds():
            limit = int(MAX_DURATION.total_seconds())
            raise KithError(422, f"Validation failed: {name} must be between 0 and {limit} seconds")
        return timedelta(seconds=seconds)

    def url(self, name: builtins.str, *, max_length: builtins.int) -> builtins.str | None:
        """An absolute http(s) URL; None when absent or empty. Refused (422) when it is not
        one, including what `urlsplit` cannot parse (`http://[`)."""
        value = self.str(name, max_length=max_length)
        if not value:
            return None
        try:
            parts = urlsplit(value)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:
            valid = False
        if not valid:
            raise KithError(422, f"Validation failed: {name} is not an http(s) URL")
        return value

    def id(self, name: builtins.str) -> builtins.int | None:
        """An ID parameter; anything that is not a snowflake matches nothing (None)."""
        value = self.data.get(name)
        if value is None or value == "":
            return None
        return parse_id(value)

    def list(self, name: builtins.str) -> builtins.list[Any]:
        value = self.data.get(name)
        if value is None:
            value = self.data.get(f"{name}[]")
        if value is None:
            return []
        if isinstance(value, list):
            return value
        if isinstance(value, dict):
            return [value[k] for k in sorted(value, key=lambda k: (len(k), k))]
        return [value]

    def dict(self, name: builtins.str) -> builtins.dict[builtins.str, Any] | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise KithError(422, f"Validation failed: {name} must be an object")
        return value


def _integer(name: str, value: Any) -> int:
    """`value` as an int: a JSON number without a fraction, or decimal digits in a string."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, bool | int):
        return int(value)
    if isinstance(value, str) and len(value) <= 40:
        try:
            return int(value)
        except ValueError:
            pass
    raise KithError(422, f"Validation failed: {name} must be an integer")


def parse_id(value: Any) -> int | None:
    """A snowflake from a path or parameter; None when it cannot be one (so: not found)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 < value < 2**63 else None
    if isinstance(value, str) and value.isdigit() and len(value) <= 19:
        number = int(value)
        return number if 0 < number < 2**63 else None
    return None


def _reject_nul(value: Any) -> None:
    """PostgreSQL text cannot hold NUL; refuse it here rather than fail in a query."""
    if isinstance(value, str):
        if "\x00" in value:
            raise KithError(400, "Request parameters must not contain NUL characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            _reject_nul(key)
            _reject_nul(item)
    elif isinstance(value, list):
        for item in value:
            _reject_nul(item)


def path_id(request: web.Request, name: str = "id") -> int:
    """The snowflake in the path; anything that cannot be one is "not found"."""
    value = parse_id(request.match_info[name])
    if value is None:
        raise KithError(404, "Record not found")
    return value


async def read_params(request: web.Request) -> Params:
    """Merge the query string and the body (JSON, urlencoded or multipart) into `Params`."""
    data: dict[str, Any] = {}
    for key, value in request.query.items():
        _set_nested(data, key, value)
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.can_read_body:
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise KithError(413, "Request entity too large")
        ctype = request.content_type
        if ctype == "application/json":
            raw = await request.read()
            if raw.strip():
                try:
                    body = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    raise KithError(
                        400, "Error occurred while parsing request parameters"
                    ) from None
                if not isinstance(body, dict):
                    raise KithError(400, "Request body must be a JSON object")
                data.update(body)
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            try:
                form = await request.post()
            except ValueError:
                raise KithError(400, "Error occurred while parsing request parameters") from None
            for key, field in form.items():
                if isinstance(field, str):
                    _set_nested(data, key, field)
                else:
                    data[key] = field  # an uploaded file
        elif ctype not in ("", "application/octet-stream", "text/plain"):
            raise KithError(415, f"Unsupported content type {excerpt(ctype)}")
    _reject_nul(data)
    return Params(data)
