"""The clinicians' web app: a static single-page app served beside the API.

The app (``static/index.html``, ``app.js``, ``app.css`` and the vendored Preact + htm in
``static/vendor/``, see ``scripts/vendor-web.sh``) talks only to ``/api/v1``. Nothing is
built at install time and nothing is fetched from a CDN at run time.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "SECURITY_HEADERS",
    "STATIC_DIR",
    "WebHeadersMiddleware",
    "mount_web",
    "register",
    "web_available",
]

STATIC_DIR = Path(__file__).resolve().parent / "static"
"""Folder holding the web app's files."""

SECURITY_HEADERS: dict[str, str] = {
    # Scripts only from the server itself (the app has no inline script); inline styles
    # are allowed because the full HTML report, shown in a sandboxed srcdoc frame that
    # inherits this policy, carries its own <style>.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
        "frame-src 'self' blob: data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
"""Headers added to every web-app response (not to ``/api``: its Swagger page needs others)."""


def web_available(static_dir: Path = STATIC_DIR) -> bool:
    """Whether the web app is installed (its ``index.html`` exists).

    Parameters
    ----------
    static_dir
        Folder of the app.

    Returns
    -------
    bool
    """
    return (static_dir / "index.html").is_file()


def mount_web(app: FastAPI, static_dir: Path = STATIC_DIR) -> bool:
    """Serve the web app at ``/`` (``index.html`` for ``/``, assets beside it).

    Call it after every API router is included: the mount at ``/`` answers every path
    the routes before it did not, so ``/api/v1/...`` keeps reaching the API.

    Parameters
    ----------
    app
        The FastAPI application.
    static_dir
        Folder of the app (default: the one shipped with genoma).

    Returns
    -------
    bool
        ``True`` when the app was mounted, ``False`` when ``index.html`` is missing.
    """
    if not web_available(static_dir):
        return False
    app.mount("/", StaticFiles(directory=static_dir, html=True), name="web")
    return True


class WebHeadersMiddleware:
    """Pure ASGI middleware: :data:`SECURITY_HEADERS` and ``Cache-Control: no-cache`` on
    every HTTP response outside ``api_prefix`` (existing headers are kept).

    A plain ASGI middleware rather than ``@app.middleware("http")``: Starlette's
    ``BaseHTTPMiddleware`` runs every request, API calls included, through an extra
    task and memory stream (measurable CPU per request under load).
    """

    def __init__(self, app: ASGIApp, api_prefix: str = "/api/") -> None:
        self.app = app
        self.api_prefix = api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.api_prefix):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in {**SECURITY_HEADERS, "Cache-Control": "no-cache"}.items():
                    if k not in headers:
                        headers[k] = v
            await send(message)

        await self.app(scope, receive, send_with_headers)


def register(app: FastAPI, static_dir: Path = STATIC_DIR, api_prefix: str = "/api/") -> bool:
    """Serve the web app at ``/`` with security headers (the core's hook).

    :func:`mount_web` plus a middleware adding :data:`SECURITY_HEADERS` (and
    ``Cache-Control: no-cache``, so a new version of the app is picked up) to every
    response outside ``api_prefix``.

    Parameters
    ----------
    app
        The FastAPI application, with its API routers already included.
    static_dir
        Folder of the app.
    api_prefix
        Path prefix of the API, left untouched.

    Returns
    -------
    bool
        ``True`` when the app was mounted.
    """
    if not mount_web(app, static_dir):
        return False

    app.add_middleware(WebHeadersMiddleware, api_prefix=api_prefix)
    return True
