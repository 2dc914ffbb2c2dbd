"""The modules that register knowledge sources (add new ones here).

:func:`load` imports them: every module, or only the one that registers a given source
(``SOURCE_MODULE``), so a process that needs one source does not import them all
(≈ 0.3 s). A test checks ``SOURCE_MODULE`` against what the modules register.
"""

from __future__ import annotations

import importlib
import logging

_log = logging.getLogger(__name__)

SOURCE_MODULES = [
    "genoma.kb.hpo",
    "genoma.kb.pgx",
    "genoma.kb.refpanel",
    "genoma.kb.genes",
    "genoma.kb.pharmcat",
    "genoma.kb.hpo_annotations",
    "genoma.kb.clinvar",
    "genoma.kb.frequencies",
    "genoma.kb.scores",
]

#: Source name → the module that registers it.
SOURCE_MODULE: dict[str, str] = {
    "1kg-peddy": "genoma.kb.refpanel",
    "clinvar": "genoma.kb.clinvar",
    "frequencies": "genoma.kb.frequencies",
    "gencode-grch37": "genoma.kb.genes",
    "gencode-grch38": "genoma.kb.genes",
    "genes": "genoma.kb.genes",
    "hpo": "genoma.kb.hpo",
    "hpo-annotations": "genoma.kb.hpo_annotations",
    "mane-grch38": "genoma.kb.genes",
    "pgx": "genoma.kb.pgx",
    "pharmcat": "genoma.kb.pharmcat",
    "scores": "genoma.kb.scores",
}

_done: set[str] = set()


def _import(module: str) -> None:
    if module in _done:
        return
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:  # a module not written yet must not break the rest
        if exc.name != module:
            raise
        _log.debug("knowledge module %s not present", module)
    _done.add(module)


def load(name: str | None = None) -> None:
    """Import the module registering source ``name`` (every module when ``None`` or
    when the name is not in :data:`SOURCE_MODULE`)."""
    module = SOURCE_MODULE.get(name) if name is not None else None
    for m in [module] if module is not None else SOURCE_MODULES:
        _import(m)
