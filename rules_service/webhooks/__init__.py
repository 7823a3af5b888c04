"""Inbound webhooks: Shopify and carrier tracking (AfterShip-style), signature-verified and
normalized into Runbook events, then fed into the same intake as POST /v1/events."""
