"""HTML → PDF with WeasyPrint (the same HTML as ``report.html``, printed on A4).

The report HTML is self-contained, so the URL fetcher refuses every scheme except
inline ``data:`` URLs: printing never touches the network or the file system, even if
a future template slipped in a URL.
"""

from __future__ import annotations

from typing import Any

__all__ = ["to_pdf"]


def _fetcher() -> Any:
    """A WeasyPrint URL fetcher that allows ``data:`` URLs only."""
    from weasyprint import urls

    if hasattr(urls, "URLFetcher"):  # WeasyPrint >= 68: a class with allowed_protocols
        return urls.URLFetcher(allowed_protocols={"data"})

    def fetch(url: str, *args: Any, **kwargs: Any) -> Any:  # older WeasyPrint: a function
        if url.startswith("data:"):
            return urls.default_url_fetcher(url, *args, **kwargs)
        raise ValueError(f"external resources are not allowed in the report: {url}")

    return fetch


def to_pdf(html: str) -> bytes:
    """Print report HTML to PDF bytes (A4, page header and footer from the print CSS).

    Parameters
    ----------
    html
        A document from :func:`genoma.report.to_html`.

    Returns
    -------
    bytes
        The PDF document (starts with ``%PDF``).
    """
    import logging

    from weasyprint import HTML

    # WeasyPrint logs every unsupported CSS property and refused URL at WARNING.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    pdf = HTML(string=html, url_fetcher=_fetcher()).write_pdf()
    if not pdf:  # write_pdf without a target returns the bytes
        raise RuntimeError("WeasyPrint returned no PDF")
    return bytes(pdf)
