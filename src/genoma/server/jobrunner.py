"""``python -m genoma.server.jobrunner JOB_ID OWNER``: run one claimed job (a worker's child).

The worker pool passes the database URL, data directory and vault passphrase in the
environment (never on the command line, where other users could read them).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def lower_priority(increment: int) -> int:
    """Add ``increment`` to this process's niceness (best effort); returns the new value.

    Job processes call it first so that analyses yield the CPU to request handling
    (report fetches stay fast while jobs run); the analysis's own child processes
    inherit it. ``increment <= 0`` leaves the priority alone.
    """
    if increment <= 0:
        return os.nice(0)
    try:
        return os.nice(increment)
    except OSError:  # pragma: no cover - not permitted: run at the normal priority
        return os.nice(0)


def main(argv: list[str]) -> int:
    """Open the server context and run the job; exit 0 whatever the job's outcome.

    The process first lowers its priority (``GENOMA_SERVER_JOB_NICE``, default 10) so
    that analyses do not starve the server's request handling.
    """
    # first, so that even the imports below run at the lower priority
    lower_priority(int(os.environ.get("GENOMA_SERVER_JOB_NICE", "10")))
    from genoma.server.context import open_context
    from genoma.server.jobs import execute_job
    from genoma.server.settings import ServerSettings

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
