"""Chromosome names: the canonical UCSC spelling (``chr1`` … ``chr22``, ``chrX``,
``chrY``, ``chrM``).

Kept free of heavy imports (no pydantic) so that modules needing only the name rule
(the annotator, readers) load fast; :mod:`genoma.model.variant` re-exports it.
"""

from __future__ import annotations

__all__ = ["canonical_chrom"]

_CHROM_ALIASES = {"MT": "M", "M": "M", "23": "X", "24": "Y"}


def canonical_chrom(name: str) -> str:
    """Return the UCSC-style name of a chromosome (``1`` → ``chr1``, ``MT`` → ``chrM``).

    Names that are not primary chromosomes (alt contigs, decoys) are returned unchanged.

    Parameters
    ----------
    name
        A chromosome name as written in a file (``1``, ``chr1``, ``MT``, ``23`` …).

    Returns
    -------
    str
        The canonical name.

    Examples
    --------
    >>> canonical_chrom("1"), canonical_chrom("MT"), canonical_chrom("chrx"), canonical_chrom("GL000192.1")
    ('chr1', 'chrM', 'chrX', 'GL000192.1')
    """
    got = _SEEN.get(name)
    if got is not None:
        return got
    bare = name[3:] if name.lower().startswith("chr") else name
    bare = _CHROM_ALIASES.get(bare.upper(), bare)
    if bare.isdigit() and 1 <= int(bare) <= 22:
        got = f"chr{int(bare)}"
    elif bare.upper() in {"X", "Y", "M"}:
        got = f"chr{bare.upper()}"
    else:
        got = name
    if len(_SEEN) < _SEEN_MAX:  # files name few contigs; bounded for odd inputs
        _SEEN[name] = got
    return got


#: Names already canonicalised (called once per record by readers and models).
_SEEN: dict[str, str] = {}
_SEEN_MAX = 65536
