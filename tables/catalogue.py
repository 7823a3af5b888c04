"""The action catalogue (SPEC §5): every `do <action>` column must name one of these, and every
parameter must be one the action accepts. Parameter values are checked with pydantic."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

RESERVED = ("delay", "approval")


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class RefundParams(_Params):
    amount: float | None = Field(default=None, ge=0, description="default: the refundable maximum")
    reason: str | None = None
    restock: bool | None = None


class CancelOrderParams(_Params):
    reason: str | None = None
    refund: bool | None = None
    restock: bool | None = None


class HoldParams(_Params):
    reason: str | None = None


class CarrierParams(_Params):
    carrier: str | None = None


class NotifyCarrierParams(_Params):
    message: str | None = None


class SendCampaignParams(_Params):
    campaign: str | None = None


class PostSlackParams(_Params):
    channel: str | None = None
    text: str | None = None


class CreateTicketParams(_Params):
    subject: str | None = None
    priority: str | None = None
    note: str | None = None


class EscalateParams(_Params):
    to: str | None = None
    note: str | None = None


class TagOrderParams(_Params):
    tags: list[str] | str | None = None


class WebhookParams(_Params):
    url: str
    body: Any = None


CATALOGUE: dict[str, type[_Params]] = {
    "refund": RefundParams,
    "cancel_order": CancelOrderParams,
    "hold_order": HoldParams,
    "hold_inventory": HoldParams,
    "create_rma": CarrierParams,
    "create_return_label": CarrierParams,
    "notify_carrier": NotifyCarrierParams,
    "send_campaign": SendCampaignParams,
    "post_slack": PostSlackParams,
    "create_ticket": CreateTicketParams,
    "escalate": EscalateParams,
    "tag_order": TagOrderParams,
    "webhook": WebhookParams,
}

MONEY_ACTIONS = frozenset({"refund", "cancel_order"})


def parameter_names(action: str) -> list[str]:
    return list(CATALOGUE[action].model_fields)


def required_parameters(action: str) -> list[str]:
    return [name for name, field in CATALOGUE[action].model_fields.items() if field.is_required()]


def check_literal(action: str, key: str, value: Any) -> str | None:
    """A sentence saying why `value` does not fit `key` of `action`, or None when it fits."""
    model = CATALOGUE[action]
    probe = {name: "https://example.invalid" for name in required_parameters(action)}
    probe[key] = value
    try:
        model.model_validate(probe)
    except ValidationError as error:
        for item in error.errors():
            if item["loc"] and item["loc"][0] == key:
                return f"{key}: {item['msg'].lower()} (got {value!r})"
    return None
