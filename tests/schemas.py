"""Check API responses against the JSON schemas in `schemas/mastodon/`.

`assert_matches("account", data)` validates `data` against `schemas/mastodon/account.json`
(draft 2020-12). A schema may refer to another by file name (`{"$ref": "account.json"}`).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT202012

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas" / "mastodon"
# Schemas get this base so that relative `$ref`s name sibling files.
BASE_URI = "https://kith.invalid/schemas/mastodon/"


def _load(name: str) -> dict[str, Any]:
    schema = json.loads((SCHEMA_DIR / name).read_text())
    schema.setdefault("$id", BASE_URI + name)
    return schema


def _retrieve(uri: str) -> Resource:
    if not uri.startswith(BASE_URI) or not (SCHEMA_DIR / uri.removeprefix(BASE_URI)).is_file():
        raise NoSuchResource(ref=uri)
    return Resource.from_contents(
        _load(uri.removeprefix(BASE_URI)), default_specification=DRAFT202012
    )


_REGISTRY: Registry = Registry(retrieve=_retrieve)


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    schema = _load(f"{name}.json")
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(
        schema, registry=_REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def assert_matches(name: str, data: Any) -> None:
    """Fail with every violation listed when `data` does not match schema `name`."""
    errors = sorted(_validator(name).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        details = "\n".join(f"  at {list(e.absolute_path)}: {e.message}" for e in errors)
        raise AssertionError(f"response does not match schema {name!r}:\n{details}")
