"""Local fake servers of the external systems (see `systems.py`), run with uvicorn in a thread.

    with FakeServer(FakeZendesk()) as server:
        settings = Settings(zendesk_base_url=server.url, ...)
        ...
        server.system.effects            # Counter of effects actually performed
"""

from tests.fakes.server import FakeServer, FakeSystem, Fault
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

__all__ = [
    "FakeBase",
    "FakeBnpl",
    "FakeEcforce",
    "FakeGorgias",
    "FakeKlaviyo",
    "FakeServer",
    "FakeShipBob",
    "FakeShipStation",
    "FakeShopify",
    "FakeSlack",
    "FakeSystem",
    "FakeWebhookReceiver",
    "FakeZendesk",
    "Fault",
]
