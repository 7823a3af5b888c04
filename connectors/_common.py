"""Small helpers shared by the connector modules."""

from __future__ import annotations

from typing import Any

from connectors.base import ActionRequest

PRIORITIES = ("low", "normal", "high", "urgent")


def priority(value: Any, default: str = "normal") -> str:
    text = str(value or default).lower()
    return text if text in PRIORITIES else default


def ticket_text(request: ActionRequest) -> tuple[str, str]:
    """Subject and body of a ticket or escalation."""
    params = request.params
    order = request.order_ref()
    default_subject = f"{request.action.replace('_', ' ')}: order {order}" if order else (
        request.action.replace("_", " "))
    subject = str(params.get("subject") or default_subject)[:250]
    lines = [str(params.get("note") or subject)]
    if params.get("to"):
        lines.append(f"Escalated to: {params['to']}")
    lines.append(f"Runbook action {request.idempotency_key} ({request.event_type or 'event'})")
    return subject, "\n\n".join(lines)


def unsupported(system: str, action: str) -> str:
    return f"{system} has no API for {action}"
