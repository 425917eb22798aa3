"""Placeholder: filled in by the module's owner."""

from aiohttp import web

routes = web.RouteTableDef()
