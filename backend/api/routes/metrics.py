"""GET /metrics: Prometheus metrics, for a scraper on the same host or an admin key.

Who may read it: a request from a loopback address that came through no proxy (a Prometheus or
node agent on the same host scrapes without a key), or any request with an ``admin`` key
(``authorization: {credentials_file: ...}`` in the scrape config). A request that carries proxy
headers (``Forwarded``, ``X-Forwarded-For``, ``X-Real-IP``) is treated as remote even when the proxy
itself connects from loopback. ``ALTA_METRICS_FROM_LOOPBACK=false`` makes the key required for all.

The metrics hold counts and timings by route template, engine and task, never patient data (see
``backend.core.metrics``); they are still operational detail an outsider should not see.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, Security, status
from fastapi.responses import Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from backend.api.deps import get_principal
from backend.core.metrics import REGISTRY

router = APIRouter(tags=["operations"])

_bearer = HTTPBearer(auto_error=False)
_header = APIKeyHeader(name="X-API-Key", auto_error=False)
PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def direct_from_loopback(request: Request) -> bool:
    """Whether the client is this host itself, talking to Alta without a proxy in between."""
    if request.client is None or any(h in request.headers for h in PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:  # not an IP address (a Unix socket, the test client)
        return False


@router.get("/metrics", include_in_schema=False, response_class=Response)
def read_metrics(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header: Annotated[str | None, Security(_header)],
) -> Response:
    if not (request.app.state.settings.metrics_from_loopback and direct_from_loopback(request)):
        principal = get_principal(request, bearer, header)  # 401 without a valid key
        if not principal.allows("admin"):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                "/metrics needs an API key with the 'admin' scope, or a scrape from this host")
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
