"""The JSON Schemas in `schemas/activitypub/`, loaded once, for the inbox and the parsers.

Every inbox POST is validated, so the schemas are prepared for speed once: each `$ref` is
replaced by what it points to (the schemas are not recursive), since resolving references is
most of what jsonschema spends on a small document, and the files use `anyOf` over branches
that exclude each other, so validation stops at the first that matches.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from federation.excerpt import MAX_EXCERPT, cut, excerpt

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "activitypub"
BASE_URI = "https://kith.invalid/schemas/activitypub/"
# Deeper than any real activity (the shared fixtures reach 7); deeper documents are refused
# before validation, which, like `repr`, recurses and would exhaust Python's stack near 1000.
MAX_DEPTH = 64
# Messages quote what was sent; `first_error` keeps them to about this many characters.
MAX_MESSAGE = 2 * MAX_EXCERPT


@functools.cache
def _registry() -> Registry:
    resources = []
    for path in SCHEMA_DIR.glob("*.json"):
        schema = json.loads(path.read_text())
        schema.setdefault("$id", BASE_URI + path.name)
        resources.append((schema["$id"], Resource.from_contents(schema, DRAFT202012)))
    return Registry().with_resources(resources)


def _inline(node: Any, base: str) -> Any:
    """`node` with every `$ref` (relative to the document at `base`) replaced by its target."""
    if isinstance(node, list):
        return [_inline(item, base) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = urljoin(base, node["$ref"])
        document = target.split("#", 1)[0]  # the file the target lives in
        contents = _registry().resolver(document).lookup(target).contents
        rest = {key: value for key, value in node.items() if key != "$ref"}
        return {**_inline(contents, document), **_inline(rest, base)}
    return {key: _inline(value, base) for key, value in node.items()}


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    uri = BASE_URI + f"{name}.json"
    schema = _registry().contents(uri)
    Draft202012Validator.check_schema(schema)
    inlined = {key: value for key, value in _inline(schema, uri).items() if key != "$defs"}
    return Draft202012Validator(inlined)


def too_deep(document: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether `document` nests lists and objects more than `limit` levels (walked without
    recursion, so any depth can be measured)."""
    pending = [(document, 1)]
    while pending:
        node, depth = pending.pop()
        if not isinstance(node, dict | list):
            continue
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        pending.extend((child, depth + 1) for child in children)
    return False


def _message(error: ValidationError) -> str:
    """jsonschema's message with the offending value it starts with cut to an excerpt."""
    shown = repr(error.instance)
    if error.message.startswith(shown):
        return excerpt(error.instance) + error.message[len(shown) :]
    return error.message


def first_error(name: str, document: Any) -> str | None:
    """The first way `document` breaks schema `name` (with where), or None when it is valid.

    The message quotes at most an excerpt of what was sent, so it can be sent back."""
    if too_deep(document):
        return f"nested more than {MAX_DEPTH} levels deep"
    error = next(iter(_validator(name).iter_errors(document)), None)
    if error is None:
        return None
    where = cut("/".join(str(part) for part in error.absolute_path))
    message = f"{where}: {_message(error)}" if where else _message(error)
    return cut(message, MAX_MESSAGE)
