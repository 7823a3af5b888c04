"""Rulesets: immutable versions of uploaded workbooks, approvals, staged publication, rollback,
diff, export, and the live registry every replica decides with."""
