"""Every fake started at once, and the settings (or environment) that point Runbook at them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from runbook.settings import Settings
from tests.fakes.server import FakeServer
from tests.fakes.systems import (
    FakeBase,
    FakeBnpl,
    FakeEcforce,
    FakeGorgias,
    FakeKlaviyo,
    FakeShipBob,
    FakeShipStation,
    FakeShopify,
    FakeSlack,
    FakeWebhookReceiver,
    FakeZendesk,
)

FAKES = {
    "shopify": FakeShopify,
    "base": FakeBase,
    "ecforce": FakeEcforce,
    "zendesk": FakeZendesk,
    "gorgias": FakeGorgias,
    "shipstation": FakeShipStation,
    "shipbob": FakeShipBob,
    "bnpl": FakeBnpl,
    "klaviyo": FakeKlaviyo,
    "slack": FakeSlack,
    "webhook": FakeWebhookReceiver,
}


class Fakes(dict[str, FakeServer]):
    def system(self, name: str) -> Any:
        return self[name].system


@contextmanager
def running_fakes() -> Iterator[Fakes]:
    fakes = Fakes()
    try:
        for name, cls in FAKES.items():
            fakes[name] = FakeServer(cls()).start()
        yield fakes
    finally:
        for server in fakes.values():
            server.close()


def connector_values(fakes: Fakes) -> dict[str, Any]:
    """Settings fields (no prefix) pointing every connector at its fake."""
    slack: FakeSlack = fakes.system("slack")
    return {
        "shopify_base_url": fakes["shopify"].url, "shopify_token": "shpat_test",
        "base_base_url": fakes["base"].url, "base_token": "base_token",
        "ecforce_base_url": fakes["ecforce"].url, "ecforce_token": "ec_token",
        "zendesk_base_url": fakes["zendesk"].url, "zendesk_email": "ops@shop.test",
        "zendesk_token": "zd_token",
        "gorgias_base_url": fakes["gorgias"].url, "gorgias_email": "ops@shop.test",
        "gorgias_token": "gg_key",
        "shipstation_base_url": fakes["shipstation"].url, "shipstation_token": "ss_key:ss_secret",
        "shipbob_base_url": fakes["shipbob"].url, "shipbob_token": "sb_token",
        "bnpl_base_url": fakes["bnpl"].url, "bnpl_token": "sk_test",
        "klaviyo_base_url": fakes["klaviyo"].url, "klaviyo_token": "pk_test",
        "slack_webhook_url": fakes["slack"].url + slack.webhook_path,
        "slack_base_url": fakes["slack"].url,
        "webhook_secret": "whsec_test",
        "carrier_webhook_url": fakes["webhook"].url + "/carrier",
        "connector_rate_per_second": 1000.0, "connector_burst": 1000,
        "http_timeout_seconds": 1.0,
    }


def fake_settings(fakes: Fakes, **overrides: Any) -> Settings:
    return Settings(**{**connector_values(fakes), **overrides})


def fake_env(fakes: Fakes, **overrides: Any) -> dict[str, str]:
    """The same as RUNBOOK_* environment variables (for worker subprocesses)."""
    values = {**connector_values(fakes), **overrides}
    return {f"RUNBOOK_{k.upper()}": json.dumps(v) if isinstance(v, list) else str(v)
            for k, v in values.items() if v is not None}
