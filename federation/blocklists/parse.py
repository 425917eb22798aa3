"""Reading a shared block list in any of the three shapes lists are published in.

- Mastodon's domain-block CSV: a header `#domain,#severity,#reject_media,#reject_reports,
  #public_comment,#obfuscate` (or the same names without `#`, as some lists publish it; columns
  in any order, extra ones ignored), then one block a line;
- a plain list: one bare domain a line, `#` starting a comment, each meaning suspend;
- the JSON array of Mastodon's `GET /api/v1/instance/domain_blocks` (`domain`, `severity`,
  `comment`).

The shape is told from the text itself (servers label lists loosely). A domain containing `*`
is an obfuscated entry (Mastodon hides part of such names): it cannot be applied and is only
counted; so are entries whose domain or severity is invalid. A document with no valid entry but
invalid ones, an HTML page, or text that is not UTF-8 is malformed: nothing of it is applied.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from typing import Any

from federation.domains import MAX_COMMENT, SEVERITIES, normalize_domain
from federation.errors import KithError

_BOOLEANS = {"true": True, "false": False, "": False, "1": True, "0": False}


class MalformedList(Exception):
    """The document is not a block list; the message says why (shown to admins)."""


@dataclass
class ParsedList:
    format: str  # "csv", "plain" or "json"
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    obfuscated: int = 0
    invalid: int = 0

    def add(self, domain: str, fields: dict[str, Any]) -> None:
        """Take one listed block (fields: severity and, optionally, flags and comment)."""
        if "*" in domain:
            self.obfuscated += 1
            return
        try:
            name = normalize_domain(domain)
        except KithError:
            self.invalid += 1
            return
        if fields.get("severity") not in SEVERITIES:
            self.invalid += 1
            return
        entry = {
            "severity": fields["severity"],
            "reject_media": bool(fields.get("reject_media", False)),
            "reject_reports": bool(fields.get("reject_reports", False)),
            "obfuscate": bool(fields.get("obfuscate", False)),
            "public_comment": str(fields.get("public_comment") or "")[:MAX_COMMENT],
        }
        # A domain listed twice: the stronger line counts.
        previous = self.entries.get(name)
        if previous is None or _rank(entry) > _rank(previous):
            self.entries[name] = entry

    def summary(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "listed": len(self.entries),
            "obfuscated": self.obfuscated,
            "invalid": self.invalid,
        }


def _rank(entry: dict[str, Any]) -> int:
    return SEVERITIES.index(entry["severity"])


def parse_list(body: bytes, content_type: str = "") -> ParsedList:
    """The entries of a fetched list; `MalformedList` when it is not one."""
    if content_type.lower() in ("text/html", "application/xhtml+xml"):
        raise MalformedList("the URL serves an HTML page, not a block list")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MalformedList("the list is not UTF-8 text") from None
    start = text.lstrip()[:1]
    if start in ("[", "{"):
        parsed = _parse_json(text)
    elif start == "<":
        raise MalformedList("the list is markup (HTML or XML), not a block list")
    elif _is_csv_header(text):
        parsed = _parse_csv(text)
    else:
        parsed = _parse_plain(text)
    if not parsed.entries and parsed.invalid:
        raise MalformedList(f"the list has no valid entry ({parsed.invalid} invalid)")
    return parsed


def _first_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.strip()), "")


def _is_csv_header(text: str) -> bool:
    cells = next(csv.reader([_first_line(text)]), [])
    return len(cells) >= 2 and cells[0].strip().lower() in ("#domain", "domain")


def _parse_csv(text: str) -> ParsedList:
    parsed = ParsedList("csv")
    rows = csv.reader(line for line in text.splitlines() if line.strip())
    header = [name.strip().lower().lstrip("#") for name in next(rows)]
    for cells in rows:
        record = dict(zip(header, (cell.strip() for cell in cells), strict=False))
        flags = {}
        try:
            for name in ("reject_media", "reject_reports", "obfuscate"):
                flags[name] = _BOOLEANS[record.get(name, "").lower()]
        except KeyError:
            parsed.invalid += 1
            continue
        severity = record.get("severity", "").lower() or "suspend"
        comment = record.get("public_comment", "")
        parsed.add(
            record.get("domain", ""), {"severity": severity, "public_comment": comment, **flags}
        )
    return parsed


def _parse_plain(text: str) -> ParsedList:
    parsed = ParsedList("plain")
    for line in text.splitlines():
        domain = line.split("#", 1)[0].strip()
        if domain:
            parsed.add(domain, {"severity": "suspend"})
    return parsed


def _parse_json(text: str) -> ParsedList:
    try:
        document = json.loads(text)
    except ValueError:
        raise MalformedList("the list is not valid JSON") from None
    if not isinstance(document, list):
        raise MalformedList("the JSON list is not an array of domain blocks")
    parsed = ParsedList("json")
    for item in document:
        if not isinstance(item, dict) or not isinstance(item.get("domain"), str):
            parsed.invalid += 1
            continue
        comment = item.get("comment")
        parsed.add(
            item["domain"],
            {
                "severity": item.get("severity"),
                "public_comment": comment if isinstance(comment, str) else "",
            },
        )
    return parsed
