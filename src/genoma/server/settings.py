"""Server settings: database, data directory, workers, limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ServerSettings"]


@dataclass
class ServerSettings:
    """Everything :func:`genoma.server.app.create_app` needs.

    Attributes
    ----------
    database_url
        SQLAlchemy URL; ``None``: SQLite at ``data_dir/genoma.db``. PostgreSQL:
        ``postgresql+psycopg://user@host:port/db``.
    data_dir
        Where the server keeps its vault, audit log, secrets and job work space;
        ``None``: ``$GENOMA_HOME/server``.
    workers
        Jobs run at the same time (each in its own process).
    max_upload_bytes
        Largest accepted upload (413 above it).
    run_jobs_inline
        Run a job to completion inside the request that submits it (tests); no pool.
    token_minutes
        Lifetime of an access token.
    stale_after_s
        A ``running`` job whose heartbeat is older than this is taken as interrupted by a
        crash: re-queued once, then failed.
    max_attempts
        Runs of one job before it is failed (2: the first run and one retry).
    formats
        Report forms every job renders.
    vault_passphrase
        Passphrase of the vault's service key; ``None``: ``$GENOMA_VAULT_PASSPHRASE`` or
        the file ``data_dir/vault-passphrase`` (created, 0600, on first start).
    poll_interval_s
        How often idle workers look for queued jobs.
    report_cache_bytes
        Budget of the in-memory cache of decrypted reports (see
        :mod:`genoma.server.cache`); ``0`` turns it off. The plaintext of cached reports
        lives in the server process's memory only.
    job_nice
        Niceness added to each job process (``os.nice``) so that analyses yield the CPU
        to request handling; ``0`` leaves their priority alone.
    """

    database_url: str | None = None
    data_dir: Path | None = None
    workers: int = 2
    max_upload_bytes: int = 2 * 1024**3
    run_jobs_inline: bool = False
    token_minutes: int = 8 * 60
    stale_after_s: float = 60.0
    max_attempts: int = 2
    formats: tuple[str, ...] = ("html", "pdf", "json", "fhir")
    vault_passphrase: str | None = field(default=None, repr=False)
    poll_interval_s: float = 0.5
    report_cache_bytes: int = 64 * 1024**2
    job_nice: int = 10

    def resolved_data_dir(self) -> Path:
        """``data_dir`` or ``$GENOMA_HOME/server``."""
        if self.data_dir is not None:
            return Path(self.data_dir)
        from genoma.config import settings

        return settings().home / "server"

    def resolved_database_url(self) -> str:
        """``database_url`` or the embedded SQLite file under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir() / 'genoma.db'}"
