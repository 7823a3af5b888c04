"""Connectors to the merchant's systems, one module per system, over one shared HTTP client.

    runtime = ConnectorRuntime(settings)          # event loop thread + shared httpx client
    result = runtime.perform(request)             # -> connectors.http.Result (sync call)

`connectors.base.Registry` maps catalogue actions to the configured system (docs/connectors.md).
"""

from connectors.base import ActionRequest, Connector, Registry, build_registry
from connectors.http import HttpClient, Outcome, Reply, RequestSummary, Result
from connectors.runtime import ConnectorRuntime

__all__ = [
    "ActionRequest",
    "Connector",
    "ConnectorRuntime",
    "HttpClient",
    "Outcome",
    "Registry",
    "Reply",
    "RequestSummary",
    "Result",
    "build_registry",
]
