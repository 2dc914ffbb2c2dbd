"""Findings → ``findings.json``: the :class:`AnalysisResult` as JSON with a schema version.

The document is ``AnalysisResult.model_dump(mode="json")`` plus one top-level key,
``schema_version`` (:data:`SCHEMA_VERSION`), which changes whenever the model changes in
a way a reader would notice. :func:`from_json` reads it back.
"""

from __future__ import annotations

import json
from typing import Any

from genoma.errors import MalformedInputError
from genoma.model.findings import AnalysisResult

__all__ = ["SCHEMA_VERSION", "from_json", "to_json"]

SCHEMA_VERSION = "1.0"
"""Version of the ``findings.json`` layout (major.minor; a major bump breaks readers)."""


def to_json(result: AnalysisResult) -> dict[str, Any]:
    """The result as a JSON-ready dict with ``schema_version`` first.

    Parameters
    ----------
    result
        The run result.

    Returns
    -------
    dict
        ``{"schema_version": ..., **result.model_dump(mode="json")}``.
    """
    return {"schema_version": SCHEMA_VERSION, **result.model_dump(mode="json")}


def from_json(doc: dict[str, Any] | str | bytes, *, path: str | None = None) -> AnalysisResult:
    """Read a ``findings.json`` document back into an :class:`AnalysisResult`.

    Parameters
    ----------
    doc
        The parsed document, or its JSON text.
    path
        File name for error messages.

    Returns
    -------
    AnalysisResult

    Raises
    ------
    MalformedInputError
        When the text is not JSON, the major schema version differs, or the content
        does not validate.
    """
    from pydantic import ValidationError

    if isinstance(doc, (str, bytes)):
        try:
            doc = json.loads(doc)
        except json.JSONDecodeError as e:
            raise MalformedInputError(f"not JSON: {e.msg}", path=path, line=e.lineno) from e
    if not isinstance(doc, dict):
        raise MalformedInputError("findings.json must hold a JSON object", path=path)
    body = dict(doc)
    version = str(body.pop("schema_version", ""))
    if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise MalformedInputError(
            f"findings.json schema_version {version or 'missing'!s} is not supported "
            f"(this genoma reads {SCHEMA_VERSION})",
            path=path,
        )
    try:
        return AnalysisResult.model_validate(body)
    except ValidationError as e:
        raise MalformedInputError(f"invalid findings document: {e}", path=path) from e
