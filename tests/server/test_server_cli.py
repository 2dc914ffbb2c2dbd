"""``genoma serve`` starts with one command on the embedded default (SQLite) and serves
the API and the web app; migrations create exactly the models' schema."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx

from genoma.server import db


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_genoma_serve_one_command(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = _free_port()
    env = {**os.environ, "GENOMA_HOME": str(home)}
    env.pop("GENOMA_VAULT_PASSPHRASE", None)
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "genoma"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                r = httpx.get(f"{base}/api/v1/health", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert r.status_code == 200 and r.json()["database"] == "sqlite"
        secret = home / "server" / "admin-password"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        for name in ("jwt-secret", "audit.key", "vault-passphrase"):
            assert stat.S_IMODE((home / "server" / name).stat().st_mode) == 0o600, name
        tok = httpx.post(
            f"{base}/api/v1/auth/token",
            data={"username": "admin", "password": secret.read_text().strip()},
        )
        assert tok.status_code == 200
        me = httpx.get(
            f"{base}/api/v1/users/me",
            headers={"Authorization": f"Bearer {tok.json()['access_token']}"},
        )
        assert me.json()["roles"] == ["admin"]
        assert httpx.get(f"{base}/api/v1/openapi.json").json()["info"]["title"] == "genoma"
        static = Path(db.__file__).parent / "static" / "index.html"
        if static.is_file():
            page = httpx.get(f"{base}/")
            assert page.status_code == 200 and "html" in page.headers["content-type"]
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "created user admin" in out.replace("\n", " ")
    assert (home / "server" / "genoma.db").is_file()


def test_migrations_match_the_models(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = db.make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    db.migrate(engine)
    db.migrate(engine)  # idempotent: a restart on a migrated database changes nothing
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), db.Base.metadata) == []
        assert MigrationContext.configure(conn).get_current_revision() == "0001"
    engine.dispose()


def test_secret_files_readable_by_others_are_refused(tmp_path: Path) -> None:
    import pytest

    from genoma.errors import ConsentDeniedError
    from genoma.server.security import read_or_create_secret

    p = tmp_path / "s"
    first = read_or_create_secret(p)
    assert read_or_create_secret(p) == first and len(first) == 64
    p.chmod(0o644)
    with pytest.raises(ConsentDeniedError):
        read_or_create_secret(p)


def test_unreachable_database_is_a_clear_error_without_the_password(tmp_path: Path) -> None:
    """`genoma serve --database-url` to nothing: exit 3, the URL named with its password
    hidden, no traceback."""
    with socket.socket() as s:  # a loopback port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GENOMA_HOME": str(tmp_path / "home")}
    r = subprocess.run(
        [str(Path(sys.executable).parent / "genoma"), "serve", "--port", "1",
         "--database-url", f"postgresql+psycopg://u:s3cret@127.0.0.1:{port}/x"],
        capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 3, r.stderr
    assert "cannot open the database" in r.stderr and f"127.0.0.1:{port}" in r.stderr
    assert "s3cret" not in r.stderr and "Traceback" not in r.stderr
