"""Who is calling: the API key's id, name and roles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Role = Literal["ops", "approver", "auditor", "service", "admin"]
ROLES: frozenset[str] = frozenset(get_args(Role))
ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    key_id: str
    name: str
    roles: frozenset[str]

    def has_any(self, *roles: str) -> bool:
        """True when the key holds one of `roles`; admin holds every role."""
        return ADMIN in self.roles or not roles or bool(self.roles.intersection(roles))

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return self.name
