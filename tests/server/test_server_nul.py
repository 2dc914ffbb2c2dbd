"""Text a database refuses (NUL bytes: PostgreSQL rejects them, SQLite stores them) is a
client error (422) on every backend, never a 500 — found by schemathesis on PostgreSQL."""

from __future__ import annotations

from server.support import Server


def test_nul_in_login_is_a_client_error(server: Server) -> None:
    res = server.client.post("/api/v1/auth/token", data={"username": "ad\x00min", "password": "x"})
    assert res.status_code in (401, 422), res.text


def test_nul_in_json_text_is_a_client_error(server: Server) -> None:
    res = server.client.post(
        "/api/v1/patients",
        headers=server.headers("clinician"),
        json={"external_id": "P\x00-1", "display_name": "x", "consent": []},
    )
    assert res.status_code in (201, 422), res.text
    if res.status_code == 201:  # stored (SQLite): it reads back unchanged
        pid = res.json()["id"]
        got = server.client.get(f"/api/v1/patients/{pid}", headers=server.headers("clinician"))
        assert got.status_code == 200 and got.json()["external_id"] == "P\x00-1"
