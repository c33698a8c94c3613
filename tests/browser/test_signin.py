"""Sign-in on the clinician page (issue 18) in Debian's Chromium: the page asks for a user, not a key;
wrong passwords, sign-out and an expired session; signing asks for the password again and records the
person; a nurse reads but cannot sign; an administrator reads a document's audit trail."""

from __future__ import annotations

import sqlite3

import httpx
import pytest

from tests.browser.conftest import PASSWORDS, Server, sign_in
from tests.browser.test_webapp import TIMEOUT_MS, load_example, open_app, wait_until

pytestmark = pytest.mark.browser
ADMIN = ("admin-ti", "clave-del-administrador")


def _db(server: Server) -> sqlite3.Connection:
    return sqlite3.connect(server.live.log.parent / "alta.db")


@pytest.fixture(scope="module")
def admin(server: Server) -> tuple[str, str]:
    secret = server.live.log.parent / "password-admin"
    secret.write_text(ADMIN[1] + "\n")
    server.live.cli("create-user", "--username", ADMIN[0], "--name", "Admin TI", "--role", "administrador",
                    "--password-file", str(secret))
    secret.unlink()
    server.users["administrador"] = ADMIN
    return ADMIN


def draft_on_server(page) -> str:
    load_example(page, "neumonia_chile")
    page.check("input[name=engine][value=server]")
    page.click("#generate-btn")
    page.wait_for_selector("body[data-document]", state="attached", timeout=TIMEOUT_MS)
    return page.evaluate("document.body.dataset.document")


def secrets_seen(page) -> str:
    """Everything the page keeps or shows where a password or the session id must never be."""
    storage = page.evaluate("JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage })")
    return " ".join([page.url, storage, page.evaluate("document.cookie"), *page.recorded.console,
                     page.inner_text("body")])


def test_the_page_asks_for_a_sign_in_not_a_key_and_a_wrong_password_is_refused(page, server):
    open_app(page, server)
    assert page.locator("#api-key").count() == 0 and page.locator("#key-form").count() == 0
    assert page.locator("#signin-form").is_visible() and page.get_attribute("body", "data-auth") == "out"

    sign_in(page, server, password="no-es-mi-clave")
    page.wait_for_selector("#signin-error:has-text('Usuario o contraseña incorrectos')", timeout=TIMEOUT_MS)
    assert page.get_attribute("body", "data-auth") == "out"
    assert page.input_value("#signin-password") == ""  # not left in the field

    sign_in(page, server)
    assert page.inner_text("#session-user") == "Dra. Pérez · médico"
    assert page.locator("#signin-form").is_hidden()
    cookie = next(c for c in page.context.cookies() if c["name"] == "alta_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    seen = secrets_seen(page)
    for secret in (PASSWORDS["medico"], "no-es-mi-clave", cookie["value"]):
        assert secret not in seen
    assert [e for e in page.recorded.errors if "401 (Unauthorized)" not in e] == []


def test_sign_out_ends_the_session_on_the_server(page, server):
    open_app(page, server)
    sign_in(page, server)
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "alta_session")
    page.click("#signout-btn")
    page.wait_for_selector("body[data-auth=out]", state="attached", timeout=TIMEOUT_MS)
    assert page.locator("#signin-form").is_visible()
    # The old cookie no longer opens anything, even when replayed by hand.
    replay = httpx.get(f"{server.url}/api/v1/auth/me", cookies={"alta_session": token}, timeout=30)
    assert replay.status_code == 401
    page.reload()
    page.wait_for_selector("body[data-ready=true]", state="attached", timeout=TIMEOUT_MS)
    assert page.get_attribute("body", "data-auth") == "out"


def test_an_expired_session_brings_the_sign_in_back(page, server):
    open_app(page, server)
    sign_in(page, server)
    load_example(page, "neumonia_chile")
    with _db(server) as db:  # the shift is over: the session's expiry has passed
        db.execute("UPDATE user_sessions SET expires_at = '2000-01-01 00:00:00' WHERE revoked_at IS NULL")
    page.check("input[name=engine][value=server]")
    page.click("#generate-btn")
    page.wait_for_selector("body[data-auth=out]", state="attached", timeout=TIMEOUT_MS)
    assert "inicie sesión" in page.inner_text("#status").lower()
    assert page.locator("#signin-form").is_visible()
    sign_in(page, server)  # signing in again carries on
    assert page.get_attribute("body", "data-auth") == "in"


def test_signing_asks_for_the_password_again_and_records_the_person(page, server):
    open_app(page, server)
    sign_in(page, server)
    doc_id = draft_on_server(page)
    assert "Firma: Dra. Pérez (RNPI 123456)" in page.inner_text("#signer")
    if page.locator("#ack").is_visible():
        page.check("#ack")

    page.click("#sign-btn")  # signed in a moment ago, but a signature needs the password again
    page.wait_for_selector("#draft-error:has-text('escriba su contraseña')", timeout=TIMEOUT_MS)
    page.fill("#sign-password", "otra-clave-mala")
    page.click("#sign-btn")
    page.wait_for_selector("#draft-error:has-text('Contraseña incorrecta')", timeout=TIMEOUT_MS)
    assert page.get_attribute("body", "data-doc-status") == "draft"
    assert page.get_attribute("body", "data-auth") == "in"  # a wrong signing password does not sign out

    page.fill("#sign-password", server.password)
    page.click("#sign-btn")
    page.wait_for_selector("body[data-doc-status=signed]", state="attached", timeout=TIMEOUT_MS)
    assert page.input_value("#sign-password") == ""
    assert "Firmado por Dra. Pérez (RNPI 123456)" in page.inner_text("#print-signature")
    stored = httpx.get(f"{server.url}/api/v1/documents/{doc_id}",
                       headers={"Authorization": f"Bearer {server.key}"}, timeout=30).json()
    assert stored["signed_by"] == "Dra. Pérez"
    assert stored["signer"]["registry_number"] == "123456" and stored["signer"]["via_key"] is None
    for secret in (server.password, "otra-clave-mala"):
        assert secret not in secrets_seen(page)


def test_a_nurse_reads_and_prints_but_may_not_write_or_sign(page, server):
    created = httpx.post(f"{server.url}/api/v1/epicrisis", json={"record": _example()},
                         headers={"Authorization": f"Bearer {server.key}"}, timeout=60).json()
    open_app(page, server)
    sign_in(page, server, role="enfermeria")
    assert page.inner_text("#session-user") == "Enf. Juan Soto · enfermería"
    page.goto(f"{server.url}/#/documento/{created['id']}")
    page.reload()  # a new hash alone does not reload the page; the document opens as the page starts
    page.wait_for_selector(f"body[data-document='{created['id']}']", state="attached", timeout=TIMEOUT_MS)
    assert page.locator("#sign-btn").is_hidden() and page.locator("#sign-password").is_hidden()
    assert page.locator("#edit-btn").is_hidden()
    # Forcing it from the page's own code gets the server's refusal.
    refused = page.evaluate(f"""async () => {{
        const me = await (await fetch('/api/v1/auth/me')).json();
        const r = await fetch('/api/v1/documents/{created['id']}/sign', {{ method: 'POST',
            headers: {{ 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token }},
            body: JSON.stringify({{ version: 1, password: 'x', acknowledge_findings: true }}) }});
        return [r.status, (await r.json()).code];
    }}""")
    assert refused == [403, "sign_not_allowed"]
    load_example(page, "neumonia_chile")
    page.check("input[name=engine][value=server]")
    page.click("#generate-btn")
    wait_until(lambda: "no permite redactar" in page.inner_text("#status"))


def test_an_administrator_reads_the_audit_trail_naming_each_person(page, server, admin):
    open_app(page, server)
    sign_in(page, server)
    doc_id = draft_on_server(page)
    if page.locator("#ack").is_visible():
        page.check("#ack")
    page.fill("#sign-password", server.password)
    page.click("#sign-btn")
    page.wait_for_selector("body[data-doc-status=signed]", state="attached", timeout=TIMEOUT_MS)
    page.click("#signout-btn")
    page.wait_for_selector("body[data-auth=out]", state="attached", timeout=TIMEOUT_MS)

    sign_in(page, server, role="administrador")
    assert page.locator("#audit").is_visible()
    page.fill("#audit-document", doc_id)
    page.click("#audit-btn")
    page.wait_for_selector("#audit-rows tr[data-action=sign]", state="attached", timeout=TIMEOUT_MS)
    signed = page.inner_text("#audit-rows tr[data-action=sign]")
    assert "Dra. Pérez (RNPI 123456)" in signed and "firmó" in signed
    assert page.locator("#audit-rows tr[data-action=create]").count() == 1


def _example() -> dict:
    from clinical.contract import example_records

    return example_records()["neumonia_chile"]
