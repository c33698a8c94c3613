"""A live server against half-sent requests, slow bodies, cut-off uploads and a 64-bit offset (issue 20)."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.support import LiveServer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("live"), {"ALTA_ENGINES": "[\"template\"]", "ALTA_HTTP_HEADER_TIMEOUT_S": "1",
                                   "ALTA_HTTP_KEEP_ALIVE_S": "1", "ALTA_BODY_READ_TIMEOUT_S": "2",
                                   "ALTA_MAX_UPLOAD_BYTES": "200000"})
    server.cli("migrate")
    server.token = server.cli("create-key", "--name", "ehr", "--scopes", "admin").stdout.strip().splitlines()[-1]
    server.start()
    yield server
    server.stop()


def closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closed the connection within ``seconds``, and what it sent first."""
    sock.settimeout(seconds)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
        return True, received
    except TimeoutError:
        return False, received
    except ConnectionResetError:
        return True, received


def test_a_half_sent_request_head_is_closed(server):
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /api/v1/documents HTTP/1.1\r\nHost: x\r\nAuthorization: Bea")
        closed, _ = closed_within(sock, 10)
    assert closed and time.monotonic() - started < 5


def test_a_connection_that_sends_nothing_is_closed(server):
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        closed, _ = closed_within(sock, 10)
    assert closed


def test_a_slow_body_gets_408_and_the_server_stays_up(server):
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"POST /api/v1/epicrisis HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer " + server.token.encode() + b"\r\nContent-Length: 5000\r\n\r\n{\"rec")
        closed, received = closed_within(sock, 10)
    assert closed and received.startswith(b"HTTP/1.1 408"), received[:200]
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_a_64_bit_offset_is_a_422_and_the_connection_stays_usable(server):
    headers = {"Authorization": f"Bearer {server.token}"}
    with httpx.Client(base_url=server.url, headers=headers) as client:
        assert client.get("/api/v1/documents?offset=9223372036854775808").status_code == 422
        assert client.get("/api/v1/documents").status_code == 200  # same keep-alive connection
        assert client.get("/api/v1/documents?limit=9223372036854775808").status_code == 422


def test_a_cut_off_oversized_upload_logs_no_traceback(server):
    headers = {"Authorization": f"Bearer {server.token}"}

    def chunks():
        yield b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n%PDF-1.4\n"
        for _ in range(100):
            yield b"0" * 10_000

    response = httpx.post(f"{server.url}/api/v1/translations", content=chunks(), timeout=30,
                          headers={**headers, "Content-Type": "multipart/form-data; boundary=b"})
    assert response.status_code == 413
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    time.sleep(0.5)
    log = server.log.read_text()
    assert "Traceback" not in log and "unhandled" not in log, log[-3000:]
