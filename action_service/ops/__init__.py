"""Health, readiness and metrics of the action service."""
