"""API routers, one per resource (mounted under ``/api/v1`` by :func:`genoma.server.app.create_app`)."""
