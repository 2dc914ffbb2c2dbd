"""Write every report form of one run into an output directory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from genoma.errors import UsageError
from genoma.io.output import atomic_write_bytes, atomic_write_text
from genoma.model.findings import AnalysisResult

__all__ = ["FILENAMES", "FORMATS", "render"]

FILENAMES: dict[str, str] = {
    "html": "report.html",
    "pdf": "report.pdf",
    "json": "findings.json",
    "fhir": "report.fhir.json",
}
FORMATS: tuple[str, ...] = tuple(FILENAMES)


def render(
    result: AnalysisResult,
    out_dir: str | Path,
    formats: Sequence[str] = FORMATS,
) -> dict[str, Path]:
    """Render ``result`` in the requested formats into ``out_dir``.

    Each file is written atomically (temporary file, then rename). The HTML is built
    once and reused for the PDF and for the FHIR ``presentedForm``.

    Parameters
    ----------
    result
        The run result.
    out_dir
        Target directory (created if missing). Callers that must not overwrite use
        :func:`genoma.io.output.run_directory` around this call.
    formats
        Any of ``html``, ``pdf``, ``json``, ``fhir`` (case-insensitive).

    Returns
    -------
    dict
        Format → path of the written file, in the order of ``formats``.

    Raises
    ------
    UsageError
        For an unknown format (exit 2).
    """
    import json

    wanted = [f.strip().lower() for f in formats if f.strip()]
    unknown = [f for f in wanted if f not in FILENAMES]
    if unknown:
        raise UsageError(
            f"unknown report format(s): {', '.join(unknown)} (choose from {', '.join(FORMATS)})"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    html: str | None = None
    if {"html", "pdf", "fhir"} & set(wanted):
        from genoma.report.html import to_html

        html = to_html(result)
    for fmt in dict.fromkeys(wanted):
        path = out / FILENAMES[fmt]
        if fmt == "html":
            assert html is not None
            atomic_write_text(path, html)
        elif fmt == "pdf":
            from genoma.report.pdf import to_pdf

            assert html is not None
            atomic_write_bytes(path, to_pdf(html))
        elif fmt == "json":
            from genoma.report.jsonout import to_json

            atomic_write_text(
                path, json.dumps(to_json(result), indent=2, ensure_ascii=False) + "\n"
            )
        elif fmt == "fhir":
            from genoma.report.fhir import to_fhir

            bundle = to_fhir(result, html=html if "html" in wanted else None)
            atomic_write_text(path, bundle.model_dump_json(indent=2) + "\n")
        written[fmt] = path
    return written
