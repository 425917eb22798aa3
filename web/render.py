"""Server-rendered HTML pages: one jinja2 environment over `web/templates`, autoescaped.

`base.html` used on its own renders a plain message page (`heading` and `message`), which is
what error pages need. Styles live in `web/static/style.css`, served under `/static/`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

# Pages must not be framed (clickjacking) nor leak their URL, which may hold a code, onwards.
_PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}


def render(
    template: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> web.Response:
    """Render `template` with `context` into an HTML response."""
    html = _env.get_template(template).render(**context)
    return web.Response(
        text=html,
        status=status,
        content_type="text/html",
        headers={**_PAGE_HEADERS, **(headers or {})},
    )


def render_message(
    title: str, message: str, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A page that only says something, such as an error a browser user should see."""
    return render(
        "base.html", status=status, headers=headers, title=title, heading=title, message=message
    )
