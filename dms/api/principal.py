"""Who is calling the API: a user or an integration client, as one actor the services accept."""

from dataclasses import dataclass, field

from dms.accounts.models import User
from dms.api.models import ApiClient


@dataclass
class Principal:
    """The authenticated caller of an API request; services take it as their `actor`.

    `permissions` is what the token's scope grants and the caller's roles still grant now, so a
    role losing a permission takes effect at once. `id` is the user id (None for a client), which is
    what the audit log and `user.id == actor.id` checks expect of an actor.
    """

    kind: str  # "user" | "client"
    subject: str
    name: str
    roles: list[str]
    permissions: frozenset[str]
    distributor_id: int | None
    user: User | None = None
    client: ApiClient | None = None
    token_id: str | None = field(default=None, repr=False)

    @property
    def id(self) -> int | None:
        return self.user.id if self.user is not None else None

    @property
    def label(self) -> str:
        return self.name if self.kind == "user" else f"API client {self.name}"

    def can(self, permission: str) -> bool:
        """True when the token's scope and the caller's current roles both grant `permission`."""
        return permission in self.permissions
