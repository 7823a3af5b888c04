"""HTTP of the audit log (`runbook.audit`): query as JSON or CSV, and verify the chain."""
