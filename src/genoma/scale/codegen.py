"""Load generated Python source as a module whose Numba kernels can use the disk cache.

Numba caches the machine code of ``@njit(cache=True)`` functions next to their source file,
so source generated at run time (e.g. a loop body written out for a run's number of
covariates, :mod:`genoma.analyses.cohort._logit_kernel`) needs a file. It is written once
into ``<GENOMA_HOME>/cache/kernels`` (temporary file, then rename: a concurrent writer or a
killed process never leaves a half-written module) and imported from there. Without a
writable cache folder the source is compiled in memory (the module sees no ``__file__``,
and its kernels should then not ask for caching).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

__all__ = ["kernel_dir", "load_source_module"]

log = logging.getLogger(__name__)


def kernel_dir() -> Path | None:
    """``<GENOMA_HOME>/cache/kernels``, created if needed; None when it is not writable."""
    from genoma.config import settings

    path = settings().cache_dir / "kernels"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK) else None


def load_source_module(name: str, source: str, folder: Path | None) -> ModuleType:
    """Import ``source`` as module ``name`` from ``folder/name.py`` (written if absent).

    ``name`` should change whenever ``source`` does (e.g. carry a hash of it), so that
    Numba's cache of the old source is not reused; an existing file whose text differs
    from ``source`` (damaged, edited) is rewritten. With ``folder`` None the source is
    executed in memory instead.
    """
    if folder is None:
        log.info("no writable kernel cache: %s is compiled in memory", name)
        module = ModuleType(name)
        exec(compile(source, f"<{name}>", "exec"), module.__dict__)
        return module
    path = folder / f"{name}.py"
    try:
        current = path.read_text() if path.exists() else None
    except (OSError, UnicodeDecodeError):
        current = None
    if current != source:
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            fh.write(source)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
