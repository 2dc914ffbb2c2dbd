"""Settings from the environment.

``GENOMA_HOME``
    The data directory where ``genoma kb install`` puts downloaded knowledge and where
    compact caches (e.g. the HPO index) live. Default: the platform's user data dir.
``GENOMA_REFERENCE``
    Path of a reference FASTA used when a command needs sequence and none is given.
``GENOMA_SHARED``
    Folder holding ``data/`` with the real truth sets used by tests and benchmarks
    (default: ``../shared`` beside the checkout).
``GENOMA_DASK_SCHEDULER``
    Address of a dask.distributed scheduler (``tcp://host:port``); default: local.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

__all__ = ["Settings", "settings"]


@dataclass(frozen=True)
class Settings:
    """Resolved runtime settings (read once per call of :func:`settings`)."""

    home: Path
    reference: Path | None
    dask_scheduler: str | None

    @property
    def kb_dir(self) -> Path:
        """Where installed knowledge releases are stored."""
        return self.home / "kb"

    @property
    def cache_dir(self) -> Path:
        """Where derived, rebuildable caches are stored."""
        return self.home / "cache"


def settings() -> Settings:
    """Read the settings from the environment."""
    home = os.environ.get("GENOMA_HOME")
    ref = os.environ.get("GENOMA_REFERENCE")
    return Settings(
        home=Path(home) if home else Path(platformdirs.user_data_dir("genoma")),
        reference=Path(ref) if ref else None,
        dask_scheduler=os.environ.get("GENOMA_DASK_SCHEDULER") or None,
    )
