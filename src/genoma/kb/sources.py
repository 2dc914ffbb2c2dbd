"""Imports every module that registers a knowledge source (add new ones here)."""

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

for _mod in SOURCE_MODULES:
    try:
        importlib.import_module(_mod)
    except ModuleNotFoundError as exc:  # a module not written yet must not break the rest
        if exc.name != _mod:
            raise
        _log.debug("knowledge module %s not present", _mod)
