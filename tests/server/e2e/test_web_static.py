"""The web app's files and how they are served (no browser needed)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from genoma.server.web import SECURITY_HEADERS, STATIC_DIR, mount_web, register  # noqa: E402

REPO = Path(__file__).resolve().parents[3]


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("src", "href"):
            if a.get(key) and tag in ("script", "link", "img"):
                self.refs.append(a[key] or "")
        if tag == "script" and not a.get("src"):
            self.inline_scripts += 1


def _app() -> fastapi.FastAPI:
    app = fastapi.FastAPI()

    @app.get("/api/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    assert register(app) is True
    return app


def test_index_loads_only_local_assets_and_no_inline_script() -> None:
    p = _Refs()
    p.feed((STATIC_DIR / "index.html").read_text())
    assert p.refs, "index.html references no assets"
    for ref in p.refs:
        assert not re.match(r"^(https?:)?//", ref), f"remote asset {ref} (no CDN at run time)"
        if not ref.startswith("data:"):
            assert (STATIC_DIR / ref).is_file(), ref
    assert p.inline_scripts == 0  # the CSP allows script-src 'self' only


def test_every_module_import_resolves_to_a_vendored_file() -> None:
    sources = [STATIC_DIR / "app.js", *sorted((STATIC_DIR / "vendor").glob("*.js"))]
    seen = 0
    for src in sources:
        text = src.read_text()
        for spec in re.findall(r"""(?:import|from)\s*["']([^"']+)["']""", text):
            seen += 1
            assert spec.startswith("./"), f"{src.name} imports {spec!r}: bare or remote"
            assert (src.parent / spec).is_file(), f"{src.name} imports missing {spec}"
    assert seen >= 4  # app.js: preact, hooks, htm; hooks.js: preact


def test_vendored_versions_match_the_vendor_script() -> None:
    script = (REPO / "scripts" / "vendor-web.sh").read_text()
    versions = (STATIC_DIR / "vendor" / "VERSIONS").read_text()
    for name in ("PREACT", "HTM"):
        version = re.search(rf"^{name}_VERSION=(\S+)$", script, re.M).group(1)
        sha = re.search(rf"^{name}_SHA256=(\S+)$", script, re.M).group(1)
        assert f"{name.lower()} {version} sha256(tarball)={sha}" in versions
    for lic in ("LICENSE.preact", "LICENSE.htm"):
        assert (STATIC_DIR / "vendor" / lic).stat().st_size > 500, lic


def test_register_serves_the_app_with_security_headers_but_leaves_the_api_alone() -> None:
    with TestClient(_app()) as client:
        r = client.get("/")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert '<script type="module" src="app.js">' in r.text
        for k, v in SECURITY_HEADERS.items():
            assert r.headers[k] == v
        js = client.get("/app.js")
        assert js.status_code == 200
        assert "javascript" in js.headers["content-type"]  # module scripts need a JS type
        assert client.get("/vendor/preact.js").status_code == 200
        api = client.get("/api/v1/health")
        assert api.json() == {"status": "ok"}
        assert "content-security-policy" not in api.headers
        assert client.get("/no-such-file.js").status_code == 404


def test_mount_web_without_index_does_nothing(tmp_path: Path) -> None:
    app = fastapi.FastAPI()
    assert mount_web(app, tmp_path) is False
    assert register(app, tmp_path) is False
    assert not app.routes or all(getattr(r, "name", "") != "web" for r in app.routes)
