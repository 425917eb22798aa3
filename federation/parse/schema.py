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

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "activitypub"
BASE_URI = "https://kith.invalid/schemas/activitypub/"


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


def first_error(name: str, document: Any) -> str | None:
    """The first way `document` breaks schema `name` (with where), or None when it is valid."""
    error = next(iter(_validator(name).iter_errors(document)), None)
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message
