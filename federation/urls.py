"""The URLs of local actors and objects. One place, so ActivityPub ids never drift."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LocalUrls:
    base_url: str  # e.g. https://kith.example, no trailing slash

    @property
    def domain(self) -> str:
        return self.base_url.split("://", 1)[1]

    def instance_actor(self) -> str:
        return f"{self.base_url}/actor"

    def actor(self, username: str) -> str:
        return f"{self.base_url}/users/{username}"

    def profile(self, username: str) -> str:
        return f"{self.base_url}/@{username}"

    def key_id(self, username: str) -> str:
        return f"{self.actor(username)}#main-key"

    def actor_collections(self, username: str) -> dict[str, str]:
        actor = self.actor(username)
        return {
            "inbox": f"{actor}/inbox",
            "outbox": f"{actor}/outbox",
            "shared_inbox": f"{self.base_url}/inbox",
            "followers": f"{actor}/followers",
            "following": f"{actor}/following",
            "featured": f"{actor}/collections/featured",
        }

    def status(self, username: str, status_id: int) -> str:
        return f"{self.actor(username)}/statuses/{status_id}"

    def status_page(self, username: str, status_id: int) -> str:
        return f"{self.profile(username)}/{status_id}"

    def tag(self, name: str) -> str:
        return f"{self.base_url}/tags/{name}"

    def media(self, name: str) -> str:
        """A MediaStore file as Kith serves it."""
        return f"{self.base_url}/media/{name}"

    def activity(self, username: str, kind: str, object_id: int) -> str:
        return f"{self.actor(username)}/{kind}/{object_id}"
