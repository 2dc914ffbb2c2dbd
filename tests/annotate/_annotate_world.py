"""A synthetic reference + GFF3 for annotator tests (one contig, Ensembl-style ids)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path

import pysam

#: ``(transcript number, strand, exons [(start, end)], cds (start, end) or (), biotype)``
Transcript = tuple[int, str, list[tuple[int, int]], tuple[int, int] | tuple[()], str]


def write_world(tmp: Path, seq: str, transcripts: Iterable[Transcript], *,
                version: int = 1, without_protein_id: Collection[object] = ()
                ) -> tuple[Path, Path]:
    """Write ``seq`` as ``chr1`` of an indexed FASTA and the transcripts as a GFF3.

    Returns
    -------
    tuple
        ``(fasta, gff3)`` paths in ``tmp``.
    """
    fa = tmp / "ref.fa"
    fa.write_text(">chr1\n" + "\n".join(seq[i:i + 60] for i in range(0, len(seq), 60)) + "\n")
    pysam.faidx(str(fa))
    lines = ["##gff-version 3"]
    for tid, strand, exons, cds, bt in transcripts:
        s, e = exons[0][0], exons[-1][1]
        lines.append(f"chr1\t.\tgene\t{s}\t{e}\t.\t{strand}\t.\tID=gene:G{tid};Name=N{tid};biotype={bt}")
        lines.append(f"chr1\t.\tmRNA\t{s}\t{e}\t.\t{strand}\t.\tID=transcript:{tid};Parent=gene:G{tid};"
                     f"biotype={bt};version={version}")
        for a, b in exons:
            lines.append(f"chr1\t.\texon\t{a}\t{b}\t.\t{strand}\t.\tParent=transcript:{tid}")
            if cds and b >= cds[0] and a <= cds[1]:
                attrs = (f"Parent=transcript:{tid}" if tid in without_protein_id else
                         f"ID=CDS:P{tid};Parent=transcript:{tid};protein_id=P{tid}")
                lines.append(f"chr1\t.\tCDS\t{max(a, cds[0])}\t{min(b, cds[1])}\t.\t{strand}\t0\t"
                             f"{attrs}")
    gff = tmp / "tx.gff3"
    gff.write_text("\n".join(lines) + "\n")
    return fa, gff
