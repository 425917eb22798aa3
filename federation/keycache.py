"""Placeholder: filled in by the module's owner (parsed keys cached in memory)."""


class KeyCache:
    pass
