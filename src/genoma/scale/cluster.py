"""Where cohort computations run: in-process threads, a LocalCluster, or any scheduler.

Every cohort analysis builds a Dask graph and calls ``compute``; which scheduler executes
it is decided here, once, by the caller (the CLI's ``--scheduler``):

``threads`` (default)
    Dask's threaded scheduler in the current process: no start-up cost (and
    ``distributed`` is not even imported).
``local``
    A ``dask.distributed.LocalCluster`` with ``workers`` processes (``threads`` each,
    ``memory_limit`` per worker) — the same code path as a real cluster, with spilling.
``tcp://HOST:PORT`` (or any address ``distributed.Client`` accepts)
    An existing dask.distributed cluster.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from genoma.errors import UsageError

__all__ = ["dask_context", "describe_scheduler"]


def describe_scheduler(client: Any | None) -> dict[str, Any]:
    """Scheduler kind, address and worker resources, JSON-ready (for manifests)."""
    if client is None:
        import os

        return {"scheduler": "threads", "threads": os.cpu_count()}
    info = client.scheduler_info()
    workers = info.get("workers", {})
    return {
        "scheduler": client.scheduler.address,
        "workers": len(workers),
        "threads": sum(w.get("nthreads", 0) for w in workers.values()),
        "memory_limit": sum(w.get("memory_limit", 0) or 0 for w in workers.values()),
    }


@contextlib.contextmanager
def dask_context(scheduler: str = "threads", *, workers: int = 2, threads_per_worker: int = 1,
                 memory_limit: str | int | None = "auto", progress: bool = False
                 ) -> Iterator[Any | None]:
    """Run the enclosed Dask computations on the chosen scheduler.

    Parameters
    ----------
    scheduler
        ``threads``, ``local`` or a scheduler address (``tcp://host:8786``).
    workers, threads_per_worker, memory_limit
        LocalCluster shape (``local`` only).
    progress
        Show a progress bar on stderr for each ``compute``.

    Yields
    ------
    distributed.Client or None
        The client (None for ``threads``).

    Raises
    ------
    UsageError
        Unknown scheduler name, or the address cannot be reached (exit 2).
    """
    if scheduler == "threads":
        import dask
        import dask.threaded

        # the scheduler function itself, not the name "threads": with a name, every
        # compute first imports distributed (≈ 0.4 s) to look for a running Client
        with dask.config.set(scheduler=dask.threaded.get), contextlib.ExitStack() as stack:
            if progress:
                from dask.diagnostics import ProgressBar

                stack.enter_context(ProgressBar(out=sys.stderr, minimum=2.0))
            yield None
        return
    from distributed import Client, LocalCluster

    if scheduler == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker,
                               memory_limit=memory_limit, processes=True,
                               dashboard_address=":0")
        with cluster, Client(cluster) as client:
            yield client
        return
    if "://" not in scheduler:
        raise UsageError(f"unknown scheduler {scheduler!r}: threads, local or tcp://HOST:PORT")
    try:
        client = Client(scheduler, timeout="10s")
    except OSError as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
    with client:
        yield client
