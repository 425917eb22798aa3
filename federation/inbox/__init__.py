"""The inbox's accept-and-queue (`receive`); processing what it queued is `server.inbox`'s."""
