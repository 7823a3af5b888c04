"""Runs what the database says is due: delayed and retried actions, approved actions, and
actions whose worker's lease expired; expires stale approvals."""

from action_service.scheduler.loop import Scheduler

__all__ = ["Scheduler"]
