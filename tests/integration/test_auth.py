"""People (issue 18): sign-in sessions, CSRF, lockout, the role and scope matrix, and signatures that
belong to the signed-in médico (or, through an EHR key, to a named médico with their own password)."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from backend.app import create_app
from backend.db.models import AuditEvent, Document, User, UserSession
from backend.services import users

PASSWORD = "clave-de-prueba-1"
ROLES = {"medico": ("perez", "Dra. Ana Pérez", "RNPI", "123456"),
         "enfermeria": ("soto", "Enf. Juan Soto", None, None),
         "administrativo": ("rojas", "Sra. Rojas", None, None),
         "administrador": ("admin", "Admin TI", None, None)}


@pytest.fixture
def people(sessions) -> dict[str, int]:
    with sessions() as session:
        return {role: users.create_user(session, username=u, name=n, role=role, password=PASSWORD,
                                        registry_type=t, registry_number=r).id
                for role, (u, n, t, r) in ROLES.items()}


@pytest.fixture
def web(settings):
    """The page's view: HTTPS (the cookie is Secure outside development) and a cookie jar."""
    def make() -> TestClient:
        return TestClient(create_app(settings), base_url="https://testserver")
    clients = []

    def opened() -> TestClient:
        c = make().__enter__()
        clients.append(c)
        return c
    yield opened
    for c in clients:
        c.__exit__(None, None, None)


def sign_in(web, role: str, password: str = PASSWORD) -> tuple[TestClient, dict[str, str]]:
    c = web()
    r = c.post("/api/v1/auth/login", json={"username": ROLES[role][0], "password": password})
    assert r.status_code == 200, r.text
    return c, {"X-CSRF-Token": r.json()["csrf_token"]}


def new_document(client, headers, record) -> dict:
    r = client.post("/api/v1/epicrisis", json={"record": record}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_login_sets_a_strict_httponly_secure_cookie_and_me_names_the_user(web, people) -> None:
    c = web()
    r = c.post("/api/v1/auth/login", json={"username": "perez", "password": PASSWORD})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert "alta_session=" in cookie and "HttpOnly" in cookie and "Secure" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Max-Age=" in cookie
    assert r.json()["user"]["name"] == "Dra. Ana Pérez" and r.json()["user"]["registry_number"] == "123456"
    me = c.get("/api/v1/auth/me").json()
    assert me["user"]["username"] == "perez" and me["csrf_token"] == r.json()["csrf_token"]
    assert "password" not in r.text and "argon2" not in r.text


def test_wrong_password_and_unknown_user_get_the_same_answer_and_echo_nothing(web, people) -> None:
    c = web()
    wrong = c.post("/api/v1/auth/login", json={"username": "perez", "password": "Secreto-Equivocado"})
    unknown = c.post("/api/v1/auth/login", json={"username": "nadie-aqui", "password": "Secreto-Equivocado"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    for r in (wrong, unknown):
        assert "Secreto-Equivocado" not in r.text and "nadie-aqui" not in r.text and "perez" not in r.text
        assert "set-cookie" not in r.headers


def test_lockout_after_repeated_wrong_passwords_even_for_the_right_one(web, people, sessions) -> None:
    c = web()
    for _ in range(5):
        assert c.post("/api/v1/auth/login", json={"username": "perez", "password": "mala-clave-xx"}).status_code == 401
    locked = c.post("/api/v1/auth/login", json={"username": "perez", "password": PASSWORD})
    assert locked.status_code == 429 and locked.json()["code"] == "account_locked"
    assert int(locked.headers["Retry-After"]) > 0
    with sessions() as session:  # the lock ends by itself
        session.execute(update(User).where(User.username == "perez")
                        .values(locked_until=dt.datetime(2000, 1, 1)))
        session.commit()
    assert c.post("/api/v1/auth/login", json={"username": "perez", "password": PASSWORD}).status_code == 200


def test_writes_with_the_cookie_need_the_csrf_token(web, people, record) -> None:
    c, csrf = sign_in(web, "medico")
    refused = c.post("/api/v1/epicrisis", json={"record": record})
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
    assert c.post("/api/v1/epicrisis", json={"record": record},
                  headers={"X-CSRF-Token": "0" * 64}).status_code == 403
    doc = new_document(c, csrf, record)
    assert c.get(f"/api/v1/documents/{doc['id']}").status_code == 200  # reads need no token


def test_logout_ends_the_session_on_the_server(web, people) -> None:
    c, csrf = sign_in(web, "medico")
    token = c.cookies.get("alta_session")
    assert c.post("/api/v1/auth/logout", headers=csrf).status_code == 204
    replay = web()
    replay.cookies.set("alta_session", token, domain="testserver")
    assert replay.get("/api/v1/auth/me").status_code == 401  # the old cookie is dead, not just forgotten


def test_expired_and_idle_sessions_are_refused(web, people, sessions) -> None:
    c, _ = sign_in(web, "medico")
    with sessions() as session:
        session.execute(update(UserSession).values(expires_at=dt.datetime(2000, 1, 1)))
        session.commit()
    r = c.get("/api/v1/auth/me")
    assert r.status_code == 401 and "sign in again" in r.json()["detail"]
    c2, _ = sign_in(web, "medico")
    with sessions() as session:
        session.execute(update(UserSession).where(UserSession.revoked_at.is_(None))
                        .values(last_seen_at=dt.datetime(2000, 1, 1)))
        session.commit()
    assert c2.get("/api/v1/auth/me").status_code == 401


def test_disabling_a_user_signs_them_out(web, people) -> None:
    c, _ = sign_in(web, "medico")
    admin, admin_csrf = sign_in(web, "administrador")
    r = admin.patch(f"/api/v1/users/{people['medico']}", json={"active": False}, headers=admin_csrf)
    assert r.status_code == 200 and r.json()["active"] is False and "password" not in r.text
    assert c.get("/api/v1/auth/me").status_code == 401
    assert web().post("/api/v1/auth/login", json={"username": "perez", "password": PASSWORD}).status_code == 401


# --- the role matrix (people) ---------------------------------------------------------------------

@pytest.mark.parametrize(("role", "generate", "read", "print_", "sign", "admin"), [
    ("medico", True, True, True, True, False),
    ("enfermeria", False, True, True, False, False),
    ("administrativo", False, True, True, False, False),
    ("administrador", False, False, False, False, True),
])
def test_role_matrix(web, people, record, role, generate, read, print_, sign, admin) -> None:
    doctor, doctor_csrf = sign_in(web, "medico")
    doc = new_document(doctor, doctor_csrf, record)
    url = f"/api/v1/documents/{doc['id']}"
    c, csrf = sign_in(web, role)
    assert (c.post("/api/v1/epicrisis", json={"record": record}, headers=csrf).status_code == 201) is generate
    assert (c.get(url).status_code == 200) is read
    assert (c.get("/api/v1/documents").status_code == 200) is read
    assert (c.post(f"{url}/print", headers=csrf).status_code == 204) is print_
    edit = c.put(url, json={"text": doc["text"] + "\nRevisado.", "base_version": 1, "author": "x"}, headers=csrf)
    assert (edit.status_code == 200) is generate
    version = 2 if generate else 1
    signed = c.post(f"{url}/sign", json={"version": version, "password": PASSWORD, "acknowledge_findings": True},
                    headers=csrf)
    assert (signed.status_code == 200) is sign, signed.text
    if not sign:
        assert signed.status_code == 403
    assert (c.get(f"{url}/audit").status_code == 200) is admin
    assert (c.get("/api/v1/users").status_code == 200) is admin


# --- the scope matrix (EHR keys) ------------------------------------------------------------------

@pytest.mark.parametrize(("scopes", "generate", "read"), [
    (("generate",), True, False), (("read",), False, True), (("sign",), False, False),
    (("generate", "read", "sign"), True, True), (("admin",), True, True),
])
def test_scope_matrix(client, make_key, people, record, scopes, generate, read) -> None:
    key = make_key("ehr", scopes)
    writer = make_key("writer", ("generate",))
    doc = client.post("/api/v1/epicrisis", json={"record": record}, headers=writer).json()
    url = f"/api/v1/documents/{doc['id']}"
    assert (client.post("/api/v1/epicrisis", json={"record": record}, headers=key).status_code == 201) is generate
    assert (client.get(url, headers=key).status_code == 200) is read
    assert (client.post(f"{url}/print", headers=key).status_code == 204) is read
    assert (client.get(f"{url}/audit", headers=key).status_code == 200) is ("admin" in scopes)
    assert (client.get("/api/v1/users", headers=key).status_code == 200) is ("admin" in scopes)


def test_a_key_alone_cannot_sign_nor_name_a_signer(client, make_key, people, record) -> None:
    key = make_key("ehr", ("generate", "read", "sign"))
    doc = client.post("/api/v1/epicrisis", json={"record": record}, headers=key).json()
    url = f"/api/v1/documents/{doc['id']}/sign"
    free_text = client.post(url, json={"version": 1, "signed_by": "Dra. Pérez"}, headers=key)
    assert free_text.status_code == 422  # no free-text signer any more
    alone = client.post(url, json={"version": 1, "acknowledge_findings": True}, headers=key)
    assert alone.status_code == 403 and alone.json()["code"] == "sign_not_allowed"
    no_password = client.post(url, json={"version": 1, "username": "perez", "acknowledge_findings": True}, headers=key)
    assert no_password.status_code == 403
    wrong = client.post(url, json={"version": 1, "username": "perez", "password": "no-es-la-clave",
                                   "acknowledge_findings": True}, headers=key)
    assert wrong.status_code == 403 and wrong.json()["code"] == "wrong_password"
    assert "no-es-la-clave" not in wrong.text and "perez" not in wrong.text
    nurse = client.post(url, json={"version": 1, "username": "soto", "password": PASSWORD,
                                   "acknowledge_findings": True}, headers=key)
    assert nurse.status_code == 403  # only a médico signs, whoever carries the request
    reader = make_key("reader", ("read",))
    assert client.post(url, json={"version": 1, "username": "perez", "password": PASSWORD,
                                  "acknowledge_findings": True}, headers=reader).status_code == 403


def test_a_key_signs_on_behalf_of_a_named_medico_and_the_audit_says_so(client, make_key, people, record,
                                                                        sessions) -> None:
    key = make_key("ehr-central", ("generate", "read", "sign"))
    doc = client.post("/api/v1/epicrisis", json={"record": record}, headers=key).json()
    signed = client.post(f"/api/v1/documents/{doc['id']}/sign",
                         json={"version": 1, "username": "perez", "password": PASSWORD, "acknowledge_findings": True},
                         headers=key)
    assert signed.status_code == 200, signed.text
    body = signed.json()
    assert body["signed_by"] == "Dra. Ana Pérez"
    assert body["signer"] == {"user_id": people["medico"], "name": "Dra. Ana Pérez", "registry_type": "RNPI",
                              "registry_number": "123456", "via_key": "ehr-central"}
    with sessions() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "sign"))
    assert event.actor == "ehr-central" and event.user_id is None
    assert f"signer user {people['medico']} via key ehr-central" in event.detail


# --- signing in the page ---------------------------------------------------------------------------

def test_signing_needs_the_password_again_and_records_the_person(web, people, record, sessions, settings) -> None:
    c, csrf = sign_in(web, "medico")
    doc = new_document(c, csrf, record)
    url = f"/api/v1/documents/{doc['id']}/sign"
    body = {"version": 1, "acknowledge_findings": True}
    need = c.post(url, json=body, headers=csrf)
    assert need.status_code == 403 and need.json()["code"] == "reauth_required"  # sign-in alone is not enough
    wrong = c.post(url, json={**body, "password": "otra-clave-mala"}, headers=csrf)
    assert wrong.status_code == 403 and wrong.json()["code"] == "wrong_password"
    assert c.get("/api/v1/auth/me").status_code == 200  # a wrong signing password does not sign out
    someone_else = c.post(url, json={**body, "username": "otro", "password": PASSWORD}, headers=csrf)
    assert someone_else.status_code == 403
    signed = c.post(url, json={**body, "password": PASSWORD}, headers=csrf)
    assert signed.status_code == 200, signed.text
    assert signed.json()["signer"] == {"user_id": people["medico"], "name": "Dra. Ana Pérez", "registry_type": "RNPI",
                                       "registry_number": "123456", "via_key": None}
    with sessions() as session:
        stored = session.get(Document, doc["id"])
        assert (stored.signer_user_id, stored.signed_by, stored.signer_registry_number) == \
            (people["medico"], "Dra. Ana Pérez", "123456")


def test_a_password_entered_to_sign_stays_good_for_a_few_minutes(web, people, record, sessions) -> None:
    c, csrf = sign_in(web, "medico")
    first, second = new_document(c, csrf, record), new_document(c, csrf, record)
    assert c.post("/api/v1/auth/reauth", json={"password": PASSWORD}, headers=csrf).status_code == 204
    for doc in (first, second):
        r = c.post(f"/api/v1/documents/{doc['id']}/sign", json={"version": 1, "acknowledge_findings": True},
                   headers=csrf)
        assert r.status_code == 200, r.text
    third = new_document(c, csrf, record)
    with sessions() as session:
        session.execute(update(UserSession).values(reauth_at=dt.datetime(2000, 1, 1)))
        session.commit()
    late = c.post(f"/api/v1/documents/{third['id']}/sign", json={"version": 1, "acknowledge_findings": True},
                  headers=csrf)
    assert late.status_code == 403 and late.json()["code"] == "reauth_required"


def test_the_audit_names_the_user_for_read_edit_print_and_sign(web, people, record) -> None:
    c, csrf = sign_in(web, "medico")
    doc = new_document(c, csrf, record)
    url = f"/api/v1/documents/{doc['id']}"
    c.get(url)
    c.put(url, json={"text": doc["text"] + "\nRevisado.", "base_version": 1, "author": "Dra. Ana Pérez"}, headers=csrf)
    c.post(f"{url}/print", headers=csrf)
    c.post(f"{url}/sign", json={"version": 2, "password": PASSWORD, "acknowledge_findings": True}, headers=csrf)
    nurse, nurse_csrf = sign_in(web, "enfermeria")
    nurse.get(url)
    admin, _ = sign_in(web, "administrador")
    trail = admin.get(f"{url}/audit").json()
    assert [(e["action"], e["user_name"]) for e in trail] == [
        ("create", "Dra. Ana Pérez"), ("read", "Dra. Ana Pérez"), ("edit", "Dra. Ana Pérez"),
        ("print", "Dra. Ana Pérez"), ("sign", "Dra. Ana Pérez"), ("read", "Enf. Juan Soto")]
    assert {e["actor_kind"] for e in trail} == {"user"}
    assert trail[4]["user_registry"] == "RNPI 123456"
    assert record["patient"]["name"] not in str(trail)
    assert admin.get("/api/v1/documents/no-such-doc/audit").status_code == 404


def test_no_password_session_id_or_hash_in_logs_or_answers(web, people, record, sessions, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    c, csrf = sign_in(web, "medico")
    token = c.cookies.get("alta_session")
    doc = new_document(c, csrf, record)
    answers = [
        c.post(f"/api/v1/documents/{doc['id']}/sign", json={"version": 1, "password": "Clave-Mala-123",
                                                            "acknowledge_findings": True}, headers=csrf),
        c.post(f"/api/v1/documents/{doc['id']}/sign", json={"version": 1, "password": PASSWORD,
                                                            "acknowledge_findings": True}, headers=csrf),
        web().post("/api/v1/auth/login", json={"username": "perez", "password": "Clave-Mala-123"}),
        web().post("/api/v1/auth/login", json={"username": "perez", "password": 5}),
        web().post("/api/v1/auth/login", json={"username": "perez", "password": "x" * 2000}),
        c.get("/api/v1/users"),
    ]
    admin, _ = sign_in(web, "administrador")
    answers.append(admin.get("/api/v1/users"))
    with sessions() as session:
        hashes = list(session.scalars(select(User.password_hash)))
    secrets_ = [PASSWORD, "Clave-Mala-123", token, *hashes, "$argon2id$"]
    text = caplog.text + "".join(r.text for r in answers)
    for secret in secrets_:
        assert secret not in text


def test_dev_user_prints_the_doctors_password_once_and_the_server_log_holds_none(tmp_path) -> None:
    from tests.support import LiveServer

    server = LiveServer(tmp_path, {"ALTA_ENGINES": "[\"template\"]"})
    server.cli("migrate")
    first = server.cli("dev-user").stdout
    username, password = (tmp_path / "dev-user").read_text().split()
    assert (tmp_path / "dev-user").stat().st_mode & 0o777 == 0o600
    assert username == "medico" and password in first
    again = server.cli("dev-user").stdout
    assert password not in again and "dev-user" in again
    server.start()
    try:
        import httpx

        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert http.post("/api/v1/auth/login", json={"username": username, "password": "mala-clave"}).status_code == 401
            ok = http.post("/api/v1/auth/login", json={"username": username, "password": password})
            assert ok.status_code == 200 and ok.json()["user"]["role"] == "medico"
            token = ok.cookies["alta_session"]
            assert "Secure" not in ok.headers["set-cookie"]  # development serves plain HTTP on loopback
            assert http.post("/api/v1/auth/logout", headers={"X-CSRF-Token": ok.json()["csrf_token"]}).status_code == 204
    finally:
        server.stop()
    logged = server.log.read_text()
    assert password not in logged and token not in logged and "mala-clave" not in logged


def test_the_pages_session_question_answers_null_when_nobody_is_signed_in(web, people) -> None:
    c = web()
    assert c.get("/api/v1/auth/session").json() is None  # 200: a signed-out page is not an error
    c.cookies.set("alta_session", "not-a-token", domain="testserver")
    assert c.get("/api/v1/auth/session").json() is None
    c2, csrf = sign_in(web, "enfermeria")
    body = c2.get("/api/v1/auth/session").json()
    assert body["user"]["role"] == "enfermeria" and body["csrf_token"] == csrf["X-CSRF-Token"]


def test_an_administrator_disables_and_resets_a_user_from_the_command_line(tmp_path) -> None:
    import subprocess

    from tests.support import LiveServer

    server = LiveServer(tmp_path)
    server.cli("migrate")
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    server.cli("create-user", "--username", "perez", "--name", "Dra. Ana Pérez", "--role", "medico",
               "--registry-type", "RNPI", "--registry-number", "123456", "--password-file", str(secret))
    with pytest.raises(subprocess.CalledProcessError) as refused:  # a médico without a registry is refused
        server.cli("create-user", "--username", "soto", "--name", "Dr. Soto", "--role", "medico",
                   "--password-file", str(secret))
    assert "registry" in refused.value.stderr and PASSWORD not in refused.value.stderr
    assert "disabled" in server.cli("update-user", "--username", "perez", "--disable").stdout
    listed = server.cli("list-users").stdout
    assert "perez" in listed and "disabled" in listed and "RNPI 123456" in listed and "argon2" not in listed
    secret.write_text("otra-clave-nueva-1\n")
    out = server.cli("update-user", "--username", "perez", "--enable", "--reset-password", "--password-file", str(secret))
    assert "password reset" in out.stdout and "otra-clave-nueva-1" not in out.stdout


def test_a_signed_in_persons_edit_is_theirs_whatever_the_body_names(web, people, record) -> None:
    doctor, csrf = sign_in(web, "medico")
    doc = new_document(doctor, csrf, record)
    edit = doctor.put(f"/api/v1/documents/{doc['id']}", headers=csrf,
                      json={"text": doc["text"] + "\nRevisado.", "base_version": 1, "author": "Otra Persona"})
    assert edit.status_code == 200
    assert edit.json()["versions"][-1]["author"] == ROLES["medico"][1]
