"""Placeholder: filled in by the work on issue 4."""

from aiohttp import web

routes = web.RouteTableDef()
