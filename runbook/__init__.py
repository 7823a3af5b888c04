"""Shared platform pieces of the Runbook services: settings, errors, database, audit log."""
