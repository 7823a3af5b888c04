"""Runbook's rules service: rulesets and their versions, approvals, staged rollout, deciding
events, runs, audit. `python -m rules_service` starts it; `create_app` builds the app."""
