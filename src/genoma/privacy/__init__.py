"""genoma.privacy: encrypted vault, access control and consent, audit log, pseudonyms.

Submodules are imported lazily: ``from genoma.privacy import Vault`` works without
importing pysam or crypt4gh until needed.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "AccessController",
    "AuditLog",
    "ConsentRecord",
    "IntegrityError",
    "Policy",
    "Pseudonymiser",
    "Purpose",
    "Vault",
    "authorize",
    "check_consent",
    "deidentify_vcf",
    "generate_keypair",
    "guarded_get",
    "load_private_key",
    "load_public_key",
    "verify_log",
]

_WHERE = {
    "AccessController": "access",
    "Policy": "access",
    "authorize": "access",
    "guarded_get": "access",
    "AuditLog": "audit",
    "verify_log": "audit",
    "ConsentRecord": "consent",
    "Purpose": "consent",
    "check_consent": "consent",
    "IntegrityError": "vault",
    "Vault": "vault",
    "Pseudonymiser": "pseudonym",
    "deidentify_vcf": "pseudonym",
    "generate_keypair": "keys",
    "load_private_key": "keys",
    "load_public_key": "keys",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"genoma.privacy.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'genoma.privacy' has no attribute {name!r}")
