"""genoma.report: one renderer from findings to HTML, PDF, JSON and an HL7 FHIR bundle.

>>> from genoma.report import render
>>> paths = render(result, "out/")          # doctest: +SKIP
>>> sorted(paths)                            # doctest: +SKIP
['fhir', 'html', 'json', 'pdf']

Heavy dependencies (WeasyPrint, fhir.resources) are imported only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from genoma.report.html import to_html
from genoma.report.jsonout import SCHEMA_VERSION, from_json, to_json
from genoma.report.render import FILENAMES, FORMATS, render

if TYPE_CHECKING:
    from genoma.model.findings import AnalysisResult

__all__ = [
    "FILENAMES",
    "FORMATS",
    "SCHEMA_VERSION",
    "from_json",
    "render",
    "to_fhir",
    "to_html",
    "to_json",
    "to_pdf",
]


def to_pdf(html: str) -> bytes:
    """Print report HTML to PDF bytes; see :func:`genoma.report.pdf.to_pdf`."""
    from genoma.report.pdf import to_pdf as _to_pdf

    return _to_pdf(html)


def to_fhir(result: AnalysisResult, html: str | None = None) -> Any:
    """FHIR R4 Genomics Reporting bundle; see :func:`genoma.report.fhir.to_fhir`."""
    from genoma.report.fhir import to_fhir as _to_fhir

    return _to_fhir(result, html=html)
