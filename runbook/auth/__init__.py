"""API keys and roles: `require(*roles)` guards endpoints; keys are stored as sha256 hashes."""

from runbook.auth.deps import require
from runbook.auth.models import ApiKey
from runbook.auth.principal import ROLES, Principal, Role
from runbook.auth.service import (
    authenticate,
    create_key,
    hash_key,
    list_keys,
    revoke_key,
    upsert_bootstrap_admin,
)

__all__ = [
    "ROLES",
    "ApiKey",
    "Principal",
    "Role",
    "authenticate",
    "create_key",
    "hash_key",
    "list_keys",
    "require",
    "revoke_key",
    "upsert_bootstrap_admin",
]
