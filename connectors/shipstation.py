"""ShipStation API v1 (`https://ssapi.shipstation.com`), Basic auth `api_key:api_secret`
(`shipstation_token` holds both, colon-separated).

* create_return_label / create_rma: `POST /shipments/createlabel` with `shipFrom` = the
  customer's address (`data.order.shipping_address`) and `shipTo` = the warehouse
  (`data.warehouse`, or `params.return_address`): a label from the customer back to the shop.
  Answer: `shipmentId`, `trackingNumber`, `labelData` (base64 PDF, not kept).
  `POST /shipments/voidlabel` `{"shipmentId"}` voids one (`void_label`).

ShipStation takes no idempotency key: the local check covers repeats (docs/actions.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connectors._common import unsupported
from connectors.base import ActionRequest, require
from connectors.http import HttpClient, Reply, Result
from runbook.settings import Settings

ADDRESS_FIELDS = ("name", "company", "street1", "street2", "city", "state", "postalCode",
                  "country", "phone")


def address(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    aliases = {"address1": "street1", "address2": "street2", "province_code": "state",
               "zip": "postalCode", "country_code": "country", "postal_code": "postalCode"}
    out = {aliases.get(k, k): v for k, v in value.items()}
    return {k: out.get(k) for k in ADDRESS_FIELDS}


class ShipStationConnector:
    system = "shipstation"

    def __init__(self, settings: Settings, http: HttpClient) -> None:
        self.settings = settings
        self.http = http

    def idempotent(self, action: str) -> bool:
        return False

    async def _post(self, path: str, body: dict[str, Any]) -> Reply:
        token = require(self.settings.shipstation_token, "shipstation_token")
        key, _, secret = token.partition(":")
        url = f"{self.settings.shipstation_base_url.rstrip('/')}{path}"
        return await self.http.request(self.system, "POST", url, json=body, auth=(key, secret))

    def label_body(self, request: ActionRequest) -> dict[str, Any] | str:
        order = request.order
        ship_from = address(order.get("shipping_address"))
        ship_to = address(request.params.get("return_address") or request.data.get("warehouse")
                          or self.settings.return_address)
        if ship_from is None or ship_to is None:
            return ("a return label needs data.order.shipping_address and a return address "
                    "(RUNBOOK_RETURN_ADDRESS, data.warehouse or return_address=…)")
        weight = order.get("weight") or {"value": 500, "units": "grams"}
        return {
            "orderId": order.get("shipstation_order_id"),
            "carrierCode": str(request.params.get("carrier") or "ups"),
            "serviceCode": request.params.get("service") or order.get("service_code"),
            "packageCode": "package",
            "confirmation": "none",
            "shipDate": datetime.now(UTC).date().isoformat(),
            "weight": weight,
            "shipFrom": ship_from,
            "shipTo": ship_to,
            "testLabel": False,
        }

    async def perform(self, request: ActionRequest) -> Result:
        if request.action not in ("create_return_label", "create_rma"):
            return Result.permanent(unsupported(self.system, request.action))
        body = self.label_body(request)
        if isinstance(body, str):
            return Result.permanent(body)
        reply = await self._post("/shipments/createlabel", body)
        if not reply.ok:
            return Result.failed(reply)
        answer = reply.body or {}
        return Result.success([reply], external_id=str(answer.get("shipmentId")),
                              tracking_number=answer.get("trackingNumber"))

    async def void_label(self, shipment_id: int) -> Result:
        reply = await self._post("/shipments/voidlabel", {"shipmentId": shipment_id})
        return Result.success([reply]) if reply.ok else Result.failed(reply)
