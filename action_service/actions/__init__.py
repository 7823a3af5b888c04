"""The durable record of actions and their attempts (the local idempotency check)."""

from action_service.actions.models import Action, ActionAttempt, Status

__all__ = ["Action", "ActionAttempt", "Status"]
