"""The connector protocol and the registry: which configured system serves which action.

| action | system |
| --- | --- |
| refund | BNPL when the order's gateway is in `bnpl_gateways`, else the order system |
| cancel_order, hold_*, tag_order | the order system (`order_system`: shopify/base/ecforce) |
| create_ticket, escalate | the ticket system (`ticket_system`: zendesk, gorgias) |
| create_return_label, create_rma | the label system (`label_system`: shipstation, shipbob) |
| notify_carrier | the carrier's endpoint, a signed webhook (`carrier_webhook_url`) |
| send_campaign | Klaviyo |
| post_slack | Slack |
| webhook | the generic signed webhook |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from connectors.http import HttpClient, Result
from runbook.settings import Settings

CATALOGUE = (
    "refund", "cancel_order", "hold_order", "hold_inventory", "create_rma",
    "create_return_label", "notify_carrier", "send_campaign", "post_slack", "create_ticket",
    "escalate", "tag_order", "webhook",
)
ORDER_ACTIONS = frozenset({"refund", "cancel_order", "hold_order", "hold_inventory", "tag_order"})
TICKET_ACTIONS = frozenset({"create_ticket", "escalate"})
LABEL_ACTIONS = frozenset({"create_return_label", "create_rma"})


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """What a connector needs of one command (docs/commands.md)."""

    action: str
    idempotency_key: str
    params: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    order_id: str | None = None
    customer_id: str | None = None
    event_type: str | None = None

    @property
    def order(self) -> dict[str, Any]:
        order = self.data.get("order")
        return order if isinstance(order, dict) else {}

    @property
    def customer(self) -> dict[str, Any]:
        customer = self.data.get("customer")
        return customer if isinstance(customer, dict) else {}

    def order_ref(self) -> str | None:
        """The order's id in the external system: `order.id`, else the command's order_id."""
        value = self.order.get("id", self.order_id)
        return None if value is None else str(value)


class Connector(Protocol):
    system: str

    def idempotent(self, action: str) -> bool:
        """True when the external system itself de-duplicates `action` by our key (or the
        connector checks the system before acting), so repeating a call is harmless."""

    async def perform(self, request: ActionRequest) -> Result: ...


class NotConfigured(Exception):
    """The system serving an action has no base URL or credentials."""


def require(value: str | None, setting: str) -> str:
    if not value:
        raise NotConfigured(f"RUNBOOK_{setting.upper()} is not set")
    return value


Factory = Callable[[Settings, HttpClient], Connector]


def _factories() -> dict[str, Factory]:
    from connectors import (
        base_shop,
        bnpl,
        ecforce,
        gorgias,
        klaviyo,
        shipbob,
        shipstation,
        shopify,
        slack,
        webhook,
        zendesk,
    )

    return {
        "shopify": shopify.ShopifyConnector,
        "base": base_shop.BaseConnector,
        "ecforce": ecforce.EcforceConnector,
        "zendesk": zendesk.ZendeskConnector,
        "gorgias": gorgias.GorgiasConnector,
        "shipstation": shipstation.ShipStationConnector,
        "shipbob": shipbob.ShipBobConnector,
        "bnpl": bnpl.BnplConnector,
        "klaviyo": klaviyo.KlaviyoConnector,
        "slack": slack.SlackConnector,
        "webhook": webhook.WebhookConnector,
        "carrier": webhook.CarrierConnector,
    }


class Registry:
    """Catalogue action → the connector of the configured system (built lazily, one each)."""

    def __init__(self, settings: Settings, http: HttpClient,
                 factories: dict[str, Factory] | None = None) -> None:
        self.settings = settings
        self.http = http
        self._factories = factories or _factories()
        self._connectors: dict[str, Connector] = {}

    def system_for(self, request: ActionRequest) -> str:
        action = request.action
        if action == "refund" and self._is_bnpl(request):
            return "bnpl"
        if action in ORDER_ACTIONS:
            return self.settings.order_system
        if action in TICKET_ACTIONS:
            return self.settings.ticket_system
        if action in LABEL_ACTIONS:
            return self.settings.label_system
        fixed = {"notify_carrier": "carrier", "send_campaign": "klaviyo",
                 "post_slack": "slack", "webhook": "webhook"}
        if action not in fixed:
            raise KeyError(f"unknown action {action!r}")
        return fixed[action]

    def _is_bnpl(self, request: ActionRequest) -> bool:
        order = request.order
        names = [order.get("payment_gateway"), *(order.get("payment_gateway_names") or [])]
        wanted = {g.lower() for g in self.settings.bnpl_gateways}
        return any(isinstance(n, str) and n.lower() in wanted for n in names)

    def connector(self, system: str) -> Connector:
        connector = self._connectors.get(system)
        if connector is None:
            connector = self._connectors[system] = self._factories[system](self.settings,
                                                                          self.http)
        return connector

    def connector_for(self, request: ActionRequest) -> Connector:
        return self.connector(self.system_for(request))


def build_registry(settings: Settings, http: HttpClient) -> Registry:
    return Registry(settings, http)


__all__ = ["CATALOGUE", "ActionRequest", "Connector", "NotConfigured", "Registry",
           "build_registry", "require"]
