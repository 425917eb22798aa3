"""Kith's release version, here so that federation code (NodeInfo) can name it without importing
`server`; `server.config` re-exports it."""

KITH_VERSION = "0.1.0"
