"""The append-only, hash-chained audit log shared by both services.

    from runbook import audit
    audit.append(session=s, actor="ops@acme", kind="ruleset.published", subject="returns",
                 data={"percent": 10}, ruleset="returns", version=3)
    audit.append_many(session=s, entries=[{"actor": ..., "kind": ..., "subject": ...}, ...])
    audit.enqueue(session=s, entries=[...])   # hot paths: no chain lock, chained later
    audit.flush_pending(session=s)            # chains what was enqueued (the appender does)
    audit.verify(session=s).ok
"""

from runbook.audit.models import AuditEntry, AuditHead, AuditPending
from runbook.audit.schemas import AuditEntryOut, VerifyProblem, VerifyResult
from runbook.audit.service import append, append_many, enqueue, flush_pending, query, verify

__all__ = [
    "AuditEntry",
    "AuditEntryOut",
    "AuditHead",
    "AuditPending",
    "VerifyProblem",
    "VerifyResult",
    "append",
    "append_many",
    "enqueue",
    "flush_pending",
    "query",
    "verify",
]
