"""The append-only, hash-chained audit log shared by both services.

    from runbook import audit
    audit.append(session=s, actor="ops@acme", kind="ruleset.published", subject="returns",
                 data={"percent": 10}, ruleset="returns", version=3)
    audit.verify(session=s).ok
"""

from runbook.audit.models import AuditEntry, AuditHead
from runbook.audit.schemas import AuditEntryOut, VerifyProblem, VerifyResult
from runbook.audit.service import append, query, verify

__all__ = [
    "AuditEntry",
    "AuditEntryOut",
    "AuditHead",
    "VerifyProblem",
    "VerifyResult",
    "append",
    "query",
    "verify",
]
