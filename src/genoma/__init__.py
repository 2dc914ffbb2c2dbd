"""genoma: precision medicine where AI meets genomics.

The public API is re-exported here lazily, so that ``import genoma`` stays fast.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

__version__ = "0.1.0"

# crypt4gh logs session keys and private keys at DEBUG: never let them reach a handler
# (``-vv``, a test's log capture, the server's logs), whatever the root level.
logging.getLogger("crypt4gh").setLevel(logging.INFO)

_LAZY = {
    "Variant": "genoma.model.variant",
    "Genotype": "genoma.model.genotype",
    "Patient": "genoma.model.subject",
    "Finding": "genoma.model.findings",
    "Evidence": "genoma.model.findings",
    "Recommendation": "genoma.model.findings",
    "Limitation": "genoma.model.findings",
    "AnalysisResult": "genoma.model.findings",
    "RunManifest": "genoma.provenance",
    "GenomaError": "genoma.errors",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'genoma' has no attribute {name!r}")
