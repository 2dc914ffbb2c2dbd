"""genoma.scale: Dask helpers (one code path from a laptop to a dask.distributed cluster)."""

from genoma.scale.cluster import dask_context, describe_scheduler

__all__ = ["dask_context", "describe_scheduler"]
