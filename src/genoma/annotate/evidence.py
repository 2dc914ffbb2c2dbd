"""Clinical and population evidence on annotated alleles: ClinVar, frequencies, scores, ACMG.

:class:`EvidenceAnnotator` plugs into :func:`genoma.annotate.csq.annotate_vcf`
(``extender=``): for every record it looks the ALT alleles up in ClinVar, in the sites
VCFs and in the score tables, evaluates the ACMG/AMP criteria on the picked transcript
of each gene (:mod:`genoma.annotate.acmg`) and appends :data:`EVIDENCE_FIELDS` to every
CSQ entry (variant-level fields on every entry, ACMG fields on ``PICK=1`` entries whose
impact is not MODIFIER on a ``protein_coding`` transcript). It keeps one :class:`EvidenceRow` per evaluated allele × picked
transcript for the TSV (:func:`write_tsv`) and the report (:meth:`EvidenceAnnotator.findings`).

PS1 / PM5 need the protein change of ClinVar alleles at the variant's codon: the ClinVar
records at the codon's three genomic positions are annotated with the same annotator
(same transcripts and reference) and compared on the same transcript.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from genoma.annotate.acmg import (
    AcmgConfig,
    AcmgResult,
    Criterion,
    TranscriptFacts,
    VariantContext,
    evaluate,
    parse_manual_line,
)
from genoma.annotate.consequence import vep_alleles
from genoma.annotate.csq import CSQ_FIELDS
from genoma.annotate.transcripts import Transcript
from genoma.errors import InputMissingError
from genoma.kb.clinvar import ClinVar, ClinVarRecord, ProteinChange
from genoma.kb.frequencies import AlleleFrequency, FrequencyTable, normalise_alleles
from genoma.kb.scores import ScoreTable
from genoma.model.variant import canonical_chrom

__all__ = [
    "EVIDENCE_FIELDS",
    "EvidenceAnnotator",
    "EvidenceRow",
    "read_manual_criteria",
    "transcript_facts",
    "write_tsv",
]

#: Fields appended, in this order, after the CSQ fields of :mod:`genoma.annotate.csq`.
EVIDENCE_FIELDS = [
    "CLIN_SIG", "CLINVAR_STARS", "CLINVAR_ID", "MAX_AF", "POPMAX", "POPMAX_AF", "FAF95",
    "SCORES", "ACMG_CLASS", "ACMG_POINTS", "ACMG_POINTS_CLASS", "ACMG_CRITERIA",
    "ML_PATHOGENICITY",
]

_I = {k: i for i, k in enumerate(CSQ_FIELDS)}

ANALYSIS = "acmg"
ANALYSIS_VERSION = "0.1.0"


def transcript_facts(tx: Transcript) -> TranscriptFacts | None:
    """Exon layout of a coding transcript in cDNA coordinates (``None`` if non-coding)."""
    if tx.cds_start is None or tx.cds_end is None:
        return None
    exons = list(zip(tx.exon_starts.tolist(), tx.exon_ends.tolist(), strict=True))
    if tx.strand != 1:
        exons = exons[::-1]
    out, acc = [], 1
    cs = ce = None
    for s, e in exons:
        ln = e - s + 1
        for g, is_start in ((tx.cds_start, tx.strand == 1), (tx.cds_end, tx.strand != 1)):
            if s <= g <= e:
                c = acc + (g - s if tx.strand == 1 else e - g)
                if is_start:
                    cs = c
                else:
                    ce = c
        out.append((acc, acc + ln - 1))
        acc += ln
    if cs is None or ce is None:
        return None
    return TranscriptFacts(tx.id, tuple(out), cs, ce)


def _cdna_to_genomic(tx: Transcript, c: int) -> int | None:
    exons = list(zip(tx.exon_starts.tolist(), tx.exon_ends.tolist(), strict=True))
    if tx.strand != 1:
        exons = exons[::-1]
    acc = 1
    for s, e in exons:
        ln = e - s + 1
        if acc <= c < acc + ln:
            return s + (c - acc) if tx.strand == 1 else e - (c - acc)
        acc += ln
    return None


def _int(s: str) -> int | None:
    s = s.split("-")[0].split("/")[0]
    return int(s) if s.isdigit() else None


def _context(chrom: str, pos: int, ref: str, alt: str, f: list[str]) -> VariantContext:
    aa = f[_I["Amino_acids"]].split("/")
    return VariantContext(
        chrom=chrom, pos=pos, ref=ref, alt=alt, gene=f[_I["SYMBOL"]], transcript=f[_I["Feature"]],
        consequences=tuple(f[_I["Consequence"]].split("&")), hgvsc=f[_I["HGVSc"]], hgvsp=f[_I["HGVSp"]],
        protein_position=_int(f[_I["Protein_position"]]), ref_aa=aa[0] if len(aa) == 2 else "",
        alt_aa=aa[1] if len(aa) == 2 else "", exon=_int(f[_I["EXON"]]), intron=_int(f[_I["INTRON"]]))


@dataclass(frozen=True)
class EvidenceRow:
    """One evaluated allele on one picked transcript."""

    ctx: VariantContext
    clinvar: ClinVarRecord | None
    freq: AlleleFrequency | None
    scores: dict[str, float]
    result: AcmgResult


def read_manual_criteria(path: str | Path) -> dict[tuple[str, int, str, str], list[Criterion]]:
    """Read a ``--criteria`` TSV (``CHROM POS REF ALT CRITERIA [REASON]``; ``#`` comments).

    Raises
    ------
    InputMissingError, MalformedInputError
    """
    path = Path(path)
    if not path.exists():
        raise InputMissingError("criteria file not found", path=path)
    out: dict[tuple[str, int, str, str], list[Criterion]] = {}
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip() or line.startswith("#"):
                continue
            (c, p, r, a), crit = parse_manual_line(line, path=str(path), line_no=n)
            key = (c, *normalise_alleles(p, r, a))
            out.setdefault(key, []).extend(crit)  # type: ignore[arg-type]
    return out


def _ml_predict(hgvsc: str, hgvsp: str) -> object | None:
    """genoma's pathogenicity model on one picked entry (the model is loaded once, cached)."""
    if not hgvsc:
        return None
    from genoma.ml.pathogenicity import predict_variants

    return predict_variants([{"HGVSc": hgvsc, "HGVSp": hgvsp}])[0]


class EvidenceAnnotator:
    """Appends ClinVar / frequency / score / ACMG fields to CSQ entries.

    Parameters
    ----------
    clinvar
        ClinVar lookups (``None``: no ClinVar fields, no PS1 / PM5).
    frequencies
        Sites VCFs; MAX_AF is the highest over all of them, criteria use the first one
        that has the allele (or absence from all of them for PM2).
    scores
        Score tables (their ``name`` is the predictor name for PP3 / BP4).
    manual
        Manual criteria by ``(chrom, pos, ref, alt)`` (normalised).
    config
        ACMG thresholds and hooks.
    keep_rows
        Keep :class:`EvidenceRow` s (TSV, findings).
    """

    fields = EVIDENCE_FIELDS

    def __init__(self, *, clinvar: ClinVar | None = None, frequencies: Iterable[FrequencyTable] = (),
                 scores: Iterable[ScoreTable] = (),
                 manual: dict[tuple[str, int, str, str], list[Criterion]] | None = None,
                 config: AcmgConfig | None = None, keep_rows: bool = True, ml: bool = False):
        self.clinvar = clinvar
        self.ml = ml
        self.frequencies = list(frequencies)
        self.scores = list(scores)
        self.manual = manual or {}
        self.config = config or AcmgConfig()
        self.keep_rows = keep_rows
        self.rows: list[EvidenceRow] = []
        self.annotator = None
        self._tx: dict[str, Transcript] = {}
        self._facts: dict[str, TranscriptFacts | None] = {}
        self._codon_cache: dict[tuple[str, int], list[tuple[ProteinChange, ClinVarRecord]]] = {}

    def bind(self, annotator: object) -> None:
        """Use ``annotator`` (a :class:`~genoma.annotate.csq.Annotator`) for transcripts
        and for translating ClinVar neighbours (PS1 / PM5)."""
        self.annotator = annotator
        self._tx = {t.id: t for t in annotator.transcripts}  # type: ignore[attr-defined]

    # -- lookups ---------------------------------------------------------------------
    def _freq(self, chrom: str, pos: int, ref: str, alt: str) -> tuple[AlleleFrequency | None, float | None, str]:
        first: AlleleFrequency | None = None
        label = self.frequencies[0].label if self.frequencies else ""
        max_af: float | None = None
        for t in self.frequencies:
            f = t.lookup(chrom, pos, ref, alt)
            if f is None:
                continue
            if first is None:
                first, label = f, t.label
            if f.max_af is not None:
                max_af = f.max_af if max_af is None else max(max_af, f.max_af)
        return first, max_af, label

    def _codon_clinvar(self, ctx: VariantContext) -> list[tuple[ProteinChange, ClinVarRecord]]:
        """ClinVar missense changes at the variant's residue on its transcript."""
        if self.clinvar is None or self.annotator is None or ctx.protein_position is None:
            return []
        key = (ctx.transcript, ctx.protein_position)
        got = self._codon_cache.get(key)
        if got is not None:
            return got
        got = []
        tx = self._tx.get(ctx.transcript.split(".")[0])
        facts = self._facts_of(ctx.transcript)
        if tx is not None and facts is not None:
            c0 = facts.cds_start + 3 * (ctx.protein_position - 1)
            gpos = sorted({g for c in range(c0, c0 + 3) if (g := _cdna_to_genomic(tx, c)) is not None})
            recs: dict[tuple[int, str, str], ClinVarRecord] = {}
            for g in gpos:
                for r in self.clinvar.in_region(tx.chrom, g, g):
                    if len(r.ref) == 1 and len(r.alt) == 1:
                        recs[(r.pos, r.ref, r.alt)] = r
            if recs:
                items = sorted(recs.items())
                res = self.annotator.annotate_batch(  # type: ignore[attr-defined]
                    tx.chrom, [p for (p, _, _), _ in items], [r for (_, r, _), _ in items],
                    [[a] for (_, _, a), _ in items])
                for (_, rec), (_, entries) in zip(items, res, strict=True):
                    for e in entries:
                        f = e.split("|")
                        if f[_I["Feature"]] != ctx.transcript or "missense_variant" not in f[_I["Consequence"]]:
                            continue
                        aa = f[_I["Amino_acids"]].split("/")
                        p = _int(f[_I["Protein_position"]])
                        if p is not None and len(aa) == 2:
                            got.append((ProteinChange(ctx.transcript, p, aa[0], aa[1]), rec))
        self._codon_cache[key] = got
        return got

    def _facts_of(self, transcript: str) -> TranscriptFacts | None:
        tid = transcript.split(".")[0]
        if tid not in self._facts:
            tx = self._tx.get(tid)
            self._facts[tid] = transcript_facts(tx) if tx is not None else None
        return self._facts[tid]

    # -- the CSQ hook --------------------------------------------------------------------
    def extend(self, chrom: str, positions: list[int], refs: list[str], alts: list[list[str]],
               entries: list[list[str]]) -> list[list[str]]:
        """Append :data:`EVIDENCE_FIELDS` to the CSQ entries of a batch of records."""
        c = canonical_chrom(chrom)
        out: list[list[str]] = []
        for pos, ref, als, ents in zip(positions, refs, alts, entries, strict=True):
            if not ents:
                out.append(ents)
                continue
            label_alt = {a.label: x for a, x in zip(vep_alleles(pos, ref, als), als, strict=True)} \
                if len(als) > 1 or len(ref) != 1 or any(len(x) != 1 for x in als) else {als[0]: als[0]} if als else {}
            per_alt: dict[str, tuple[ClinVarRecord | None, AlleleFrequency | None, float | None, str,
                                     dict[str, float]]] = {}
            new: list[str] = []
            for e in ents:
                f = e.split("|")
                alt = label_alt.get(f[0], f[0])
                if alt not in per_alt:
                    cv = self.clinvar.lookup(c, pos, ref, alt) if self.clinvar is not None else None
                    fr, max_af, flabel = self._freq(c, pos, ref, alt)
                    sc = {t.name: v for t in self.scores if (v := t.lookup(c, pos, ref, alt)) is not None}
                    per_alt[alt] = (cv, fr, max_af, flabel, sc)
                cv, fr, max_af, flabel, sc = per_alt[alt]
                acmg = ["", "", "", ""]
                ml_score = ""
                if (f[_I["PICK"]] == "1" and f[_I["IMPACT"]] != "MODIFIER"
                        and f[_I["BIOTYPE"]] == "protein_coding"):
                    ctx = _context(c, pos, ref, alt, f)
                    if self.ml:
                        pred = _ml_predict(f[_I["HGVSc"]], f[_I["HGVSp"]])
                        if pred is not None and pred.score is not None:
                            ml_score = f"{pred.score:.4g}"
                            if pred.odds_path is not None:
                                sc = {**sc, "GENOMA_ML": pred.odds_path}
                    residue = self._codon_clinvar(ctx) if "missense_variant" in ctx.consequences else []
                    same = [r for pc, r in residue if pc.alt_aa == ctx.alt_aa and pc.ref_aa == ctx.ref_aa]
                    other = [(pc, r) for pc, r in residue if pc.ref_aa == ctx.ref_aa and pc.alt_aa != ctx.alt_aa]
                    man = self.manual.get((c, *normalise_alleles(pos, ref, alt)), [])  # type: ignore[call-overload]
                    res = evaluate(ctx, tx=self._facts_of(ctx.transcript), freq=fr,
                                   freq_checked=bool(self.frequencies), freq_label=flabel,
                                   clinvar_same=same, clinvar_residue=other, scores=sc, manual=man,
                                   config=self.config)
                    acmg = [res.richards, str(res.points), res.points_class, res.labels]
                    if self.keep_rows:
                        self.rows.append(EvidenceRow(ctx, cv, fr, sc, res))
                extra = [
                    cv.significance if cv else "", str(cv.stars) if cv else "", cv.variation_id if cv else "",
                    f"{max_af:.6g}" if max_af is not None else "",
                    (fr.popmax_pop or "") if fr else "",
                    f"{fr.popmax_af:.6g}" if fr and fr.popmax_af is not None else "",
                    f"{fr.faf95:.6g}" if fr and fr.faf95 is not None else "",
                    "&".join(f"{k}:{v:g}" for k, v in sc.items()),
                    *acmg,
                    ml_score,
                ]
                new.append(e + "|" + "|".join(x.replace("|", "/").replace(",", "&").replace(";", "&")
                                              .replace(" ", "_") for x in extra))
            out.append(new)
        return out

    # -- outputs -------------------------------------------------------------------------
    def findings(self, subject: str, build: str, *, classes: tuple[str, ...] = ("Pathogenic", "Likely_pathogenic")) -> list:
        """Findings (:class:`~genoma.model.findings.Finding`) for alleles classified in
        ``classes`` by the Richards rules or by points."""
        from genoma.model.findings import Confidence, Evidence, Finding, Limitation
        from genoma.model.variant import Variant

        out = []
        for row in self.rows:
            r = row.result
            if r.richards not in classes and r.points_class not in classes:
                continue
            ctx = row.ctx
            ev = [Evidence(source="acmg", version=ANALYSIS_VERSION, identifier=c.label, description=c.reason)
                  for c in r.criteria]
            if row.clinvar is not None and self.clinvar is not None:
                ev.append(Evidence(source="clinvar", version=self.clinvar.version,
                                   identifier=row.clinvar.variation_id, url=row.clinvar.url,
                                   description=f"{row.clinvar.significance} ({row.clinvar.stars} star(s))"))
            out.append(Finding(
                analysis=ANALYSIS, analysis_version=ANALYSIS_VERSION, kind="variant_classification",
                title=f"{ctx.gene} {ctx.hgvsp or ctx.hgvsc}: {r.richards.replace('_', ' ')}",
                summary=f"ACMG/AMP (Richards 2015): {r.richards} [{r.rule}]; points (Tavtigian 2020): "
                        f"{r.points} → {r.points_class}. Criteria: {r.labels or 'none'}.",
                subject=subject, genes=(ctx.gene,) if ctx.gene else (),
                variants=(Variant(chrom=ctx.chrom, pos=ctx.pos, ref=ctx.ref, alt=ctx.alt, build=build),),
                confidence=Confidence.MODERATE if any(c.manual for c in r.criteria) else Confidence.LOW,
                evidence=tuple(ev),
                limitations=(Limitation(text="Computed criteria only (population, ClinVar, predictors, "
                                             "transcript structure); segregation, de novo, functional and "
                                             "phenotype criteria need manual input.", code="ACMG_PARTIAL"),),
                data={"transcript": ctx.transcript, "hgvsc": ctx.hgvsc, "hgvsp": ctx.hgvsp,
                      "richards": r.richards, "rule": r.rule, "points": r.points,
                      "points_class": r.points_class,
                      "criteria": [{"label": c.label, "reason": c.reason, "manual": c.manual}
                                   for c in r.criteria]},
            ))
        return out


TSV_COLUMNS = ["CHROM", "POS", "REF", "ALT", "SYMBOL", "Feature", "Consequence", "HGVSc", "HGVSp",
               "CLIN_SIG", "CLINVAR_STARS", "CLINVAR_ID", "AF", "POPMAX", "POPMAX_AF", "FAF95", "SCORES",
               "ACMG_CLASS", "ACMG_RULE", "ACMG_POINTS", "ACMG_POINTS_CLASS", "ACMG_CRITERIA", "ACMG_REASONS"]


def write_tsv(rows: Iterable[EvidenceRow], path: str | Path) -> int:
    """Write one line per evaluated allele × picked transcript; return the line count."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(TSV_COLUMNS)
        for row in rows:
            ctx, r, cv, fr = row.ctx, row.result, row.clinvar, row.freq
            w.writerow([
                ctx.chrom, ctx.pos, ctx.ref, ctx.alt, ctx.gene, ctx.transcript, "&".join(ctx.consequences),
                ctx.hgvsc, ctx.hgvsp, cv.significance if cv else "", cv.stars if cv else "",
                cv.variation_id if cv else "", "" if fr is None or fr.af is None else f"{fr.af:.6g}",
                (fr.popmax_pop or "") if fr else "",
                "" if fr is None or fr.popmax_af is None else f"{fr.popmax_af:.6g}",
                "" if fr is None or fr.faf95 is None else f"{fr.faf95:.6g}",
                ";".join(f"{k}={v:g}" for k, v in row.scores.items()),
                r.richards, r.rule, r.points, r.points_class, ",".join(c.label for c in r.criteria),
                " | ".join(f"{c.label}: {c.reason}" for c in r.criteria),
            ])
            n += 1
    tmp.replace(path)
    return n
