"""/docs and /redoc work with the network off (issue 20): every file they load comes from this server."""

from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize(("page", "assets"), [
    ("/docs", ["/docs/static/swagger-ui-bundle.js", "/docs/static/swagger-ui.css"]),
    ("/redoc", ["/docs/static/redoc.standalone.js"]),
])
def test_the_api_docs_load_nothing_from_another_origin(client, page, assets):
    response = client.get(page)
    assert response.status_code == 200
    loaded = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert set(assets) <= set(loaded)
    assert not [u for u in loaded if u.startswith(("http:", "https:", "//"))], loaded
    assert "fonts.googleapis" not in response.text
    csp = response.headers["content-security-policy"]
    assert "https:" not in csp and "http:" not in csp
    for asset in assets:
        file = client.get(asset)
        assert file.status_code == 200 and len(file.content) > 10_000, asset
