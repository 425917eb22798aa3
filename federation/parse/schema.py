"""The JSON Schemas in `schemas/activitypub/`, loaded once, for the inbox and the parsers."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

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


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    schema = _registry().contents(BASE_URI + f"{name}.json")
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=_registry())


def first_error(name: str, document: Any) -> str | None:
    """The first way `document` breaks schema `name` (with where), or None when it is valid."""
    error = next(iter(_validator(name).iter_errors(document)), None)
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message
