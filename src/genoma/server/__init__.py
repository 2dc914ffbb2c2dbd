"""genoma server: REST API, database, job queue (``genoma serve``, issue #9).

The service is a thin shell over the same functions as the CLI: uploads go through the
vault (:mod:`genoma.privacy.vault`), access decisions through
:mod:`genoma.privacy.access` (roles, care teams, DUO consent), every denial and every
data read into the audit log (:mod:`genoma.privacy.audit`), and jobs run
:func:`genoma.workflow.run_analyze`.

Entry points: :func:`genoma.server.app.create_app` with a
:class:`genoma.server.settings.ServerSettings`, and :func:`genoma.server.app.create_user`.
"""

from __future__ import annotations

__all__: list[str] = []
