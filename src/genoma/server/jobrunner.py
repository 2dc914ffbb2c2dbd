"""``python -m genoma.server.jobrunner JOB_ID OWNER``: run one claimed job (a worker's child).

The worker pool passes the database URL, data directory and vault passphrase in the
environment (never on the command line, where other users could read them).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from genoma.server.jobs import execute_job
from genoma.server.settings import ServerSettings


def main(argv: list[str]) -> int:
    """Open the server context and run the job; exit 0 whatever the job's outcome."""
    from genoma.server.context import open_context

    job_id, owner = int(argv[0]), argv[1]
    settings = ServerSettings(
        database_url=os.environ["GENOMA_SERVER_DATABASE_URL"],
        data_dir=Path(os.environ["GENOMA_SERVER_DATA_DIR"]),
        formats=tuple(os.environ.get("GENOMA_SERVER_FORMATS", "html,pdf,json,fhir").split(",")),
        max_attempts=int(os.environ.get("GENOMA_SERVER_MAX_ATTEMPTS", "2")),
        vault_passphrase=os.environ.get("GENOMA_VAULT_PASSPHRASE") or None,
    )
    ctx = open_context(settings, migrate=False)
    execute_job(ctx, job_id, owner)
    ctx.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
