"""Mastodon's streaming API: the process's hub (`hub`), events rendered per viewer (`events`),
the streams and subscriptions (`streams`), and the two transports (`sse`, `websocket`)."""
