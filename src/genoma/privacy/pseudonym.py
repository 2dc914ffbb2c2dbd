"""Keyed pseudonyms of sample identifiers and de-identified VCF exports.

A pseudonym is ``<prefix>`` + the first 20 base32 characters (100 bits) of
HMAC-SHA256(key, ``genoma-pseudonym-v1|<study>|<sample id>``). It is deterministic within
a study (the same sample gets the same pseudonym in every export of that study, so
exports can be linked by the study) and different between studies (exports of two
studies cannot be linked without the key). It cannot be reversed: re-identification goes
through a mapping file encrypted under a key derived from the same secret
(ChaCha20-Poly1305), so only the key holder can reverse a pseudonym.

Why not deterministic AES-SIV of the identifier (reversible without a mapping)? Its output
length grows with — and so leaks — the identifier length, is long and unwieldy as a VCF
sample name, and would make every pseudonym ever issued reversible by anyone who obtains
the key in future, while the HMAC + mapping design lets the custodian delete a mapping to
make an export irreversibly anonymous to everyone (key holder included).

References
----------
.. [1] ISO/IEC 20889:2018 Privacy enhancing data de-identification terminology.
.. [2] EDPB / ENISA, "Pseudonymisation techniques and best practices" (2019), §5.2
   (keyed hash functions).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from genoma.errors import (
    ConsentDeniedError,
    InconsistentInputError,
    InputMissingError,
    MalformedInputError,
    UsageError,
)

__all__ = [
    "COHORT_SUMMARY_INFO",
    "KEEP_HEADER_TYPES",
    "ExportResult",
    "Pseudonymiser",
    "deidentify_vcf",
    "load_pseudonym_key",
    "quiet_htslib",
    "scrub_text",
]

_AD = b"genoma-pseudonym-map-v1"
KEEP_HEADER_TYPES = frozenset({"FILTER", "INFO", "FORMAT", "CONTIG", "ALT"})
"""Header record types kept in a de-identified VCF (besides ``##fileformat``)."""

COHORT_SUMMARY_INFO = frozenset(
    {"MLEAC", "MLEAF", "AC_Het", "AC_Hom", "AC_Hemi", "NS", "ExcessHet", "ExcHet",
     "InbreedingCoeff", "HWE", "HET", "HOM"}
)  # fmt: skip
"""INFO fields summarising the input's genotypes: dropped when samples are left out (they
would describe the excluded samples). ``AC``, ``AN`` and ``AF`` are recomputed instead."""

_CONTIG_KEYS = ("ID", "length", "assembly", "md5", "species", "taxonomy")
_PATH_RE = re.compile(
    r"(?:\b[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>()\[\]]+)"  # URLs (file://, s3://, https://...)
    r"|(?:(?<![\w.])(?:~|\.{1,2})?/[^\s\"',;<>()\[\]]*)"  # absolute / home / relative paths
    r"|(?:\b[A-Za-z]:\\[^\s\"',;<>()\[\]]*)"  # Windows paths
)
_DATE_RE = re.compile(
    r"\b(?:19|20)\d{2}[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])\b"
    r"|\b(?:0?[1-9]|[12]\d|3[01])[-/.](?:0?[1-9]|1[0-2])[-/.](?:19|20)\d{2}\b"
    r"|\b(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\b"
)
_EMAIL_RE = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")


def scrub_text(text: str) -> str:
    """Replace file paths and URLs, dates and e-mail addresses in header text.

    Used on the descriptions kept in a de-identified header: a pipeline often writes the
    input path (``/home/jdoe/PAT001.bam``), a run date or an operator's address there.

    Parameters
    ----------
    text
        Free text from a VCF header value.

    Returns
    -------
    str
        ``text`` with ``<path>``, ``<date>`` and ``<email>`` in place of those.
    """
    text = _EMAIL_RE.sub("<email>", text)
    text = _PATH_RE.sub("<path>", text)
    return _DATE_RE.sub("<date>", text)


def load_pseudonym_key(path: Path | None = None, *, env: str = "GENOMA_PSEUDONYM_KEY") -> bytes:
    """The pseudonymisation secret: hex in ``$GENOMA_PSEUDONYM_KEY`` or in the file ``path``.

    Raises
    ------
    InputMissingError
        If neither is available.
    MalformedInputError
        If the key is not at least 32 bytes of hex.
    """
    from genoma.privacy.keys import load_hex_secret

    return load_hex_secret(path, env, "pseudonymisation key")


@dataclass
class Pseudonymiser:
    """Issues keyed pseudonyms for one study and keeps the (encrypted) mapping.

    Parameters
    ----------
    key
        Secret of at least 32 bytes (keep it with the data custodian, not with exports).
    study
        Study or export domain: pseudonyms differ between studies.
    prefix
        Prefix of pseudonyms (e.g. ``GP-``).
    """

    key: bytes
    study: str = "default"
    prefix: str = "GP-"
    mapping: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.key) < 32:
            raise UsageError("pseudonymisation key must be at least 32 bytes")

    def pseudonym(self, sample_id: str) -> str:
        """The pseudonym of ``sample_id`` (recorded in :attr:`mapping`)."""
        msg = f"genoma-pseudonym-v1|{self.study}|{sample_id}".encode()
        digest = hmac.new(self.key, msg, hashlib.sha256).digest()
        p = self.prefix + base64.b32encode(digest).decode()[:20]
        old = self.mapping.setdefault(p, sample_id)
        if old != sample_id:  # 2^-100 per pair: would be a bug, not bad luck
            raise InconsistentInputError(f"pseudonym collision between {old!r} and {sample_id!r}")
        return p

    def reidentify(self, pseudonym: str) -> str:
        """The sample id behind ``pseudonym`` (needs the mapping, loaded with the key).

        Raises
        ------
        InputMissingError
            If the pseudonym is not in the mapping.
        """
        try:
            return self.mapping[pseudonym]
        except KeyError as exc:
            raise InputMissingError(f"pseudonym {pseudonym!r} is not in the mapping") from exc

    def _map_key(self) -> bytes:
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"genoma pseudonym mapping"
        ).derive(self.key)

    def save_mapping(self, path: Path) -> None:
        """Write the mapping encrypted (ChaCha20-Poly1305, key derived from the secret)."""
        path = Path(path)
        plain = json.dumps(
            {"study": self.study, "prefix": self.prefix, "mapping": self.mapping}
        ).encode()
        nonce = os.urandom(12)
        blob = nonce + ChaCha20Poly1305(self._map_key()).encrypt(
            nonce, plain, _AD + self.study.encode()
        )
        tmp = path.with_name(f".{path.name}.part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, blob)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)

    @classmethod
    def load_mapping(cls, path: Path, key: bytes, study: str = "default") -> Pseudonymiser:
        """Read an encrypted mapping written by :meth:`save_mapping`.

        Raises
        ------
        ConsentDeniedError
            If the key (or study) is wrong or the file was altered.
        """
        path = Path(path)
        try:
            blob = path.read_bytes()
        except OSError as exc:
            raise InputMissingError(
                f"cannot read pseudonym mapping: {exc.strerror}", path=path
            ) from exc
        p = cls(key=key, study=study)
        try:
            plain = ChaCha20Poly1305(p._map_key()).decrypt(
                blob[:12], blob[12:], _AD + study.encode()
            )
        except InvalidTag as exc:
            raise ConsentDeniedError(
                "cannot open pseudonym mapping (wrong key or study, or altered file)", path=path
            ) from exc
        d = json.loads(plain)
        p.prefix = d["prefix"]
        p.mapping = dict(d["mapping"])
        return p


@dataclass
class ExportResult:
    """What :func:`deidentify_vcf` wrote."""

    path: str
    samples: dict[str, str]
    records: int
    dropped_header_lines: int
    dropped_info: list[str]
    dropped_rare: int = 0
    recomputed_info: list[str] = field(default_factory=list)
    scrubbed_header_values: int = 0


@contextlib.contextmanager
def quiet_htslib() -> Iterator[None]:
    """Silence htslib's stderr messages (e.g. "Could not retrieve index file" when a
    bgzipped VCF without index is opened for a plain scan); errors still raise."""
    import pysam

    old = pysam.set_verbosity(0)
    try:
        yield
    finally:
        pysam.set_verbosity(old if isinstance(old, int) else 1)


def _header_line(r: object) -> tuple[str | None, int]:
    """The scrubbed header line for a kept record (``None``: drop it); count of changes."""
    kind = r.type  # type: ignore[attr-defined]
    items = [(k, v) for k, v in r.items() if k != "IDX"]  # type: ignore[attr-defined]
    changed = 0
    parts = []
    for k, v in items:
        if kind == "CONTIG" and k not in _CONTIG_KEYS:
            changed += 1  # URL=, free-text keys: dropped
            continue
        quoted = len(v) >= 2 and v[0] == v[-1] == '"'
        inner = v[1:-1] if quoted else v
        clean = scrub_text(inner)
        if clean != inner:
            changed += 1
            if kind == "CONTIG":  # e.g. assembly=/home/x/ref.fa: drop, do not mangle
                continue
        parts.append(f'{k}="{clean}"' if quoted else f"{k}={clean}")
    return f"##{r.key}=<{','.join(parts)}>", changed  # type: ignore[attr-defined]


def _reference_line(value: str) -> str | None:
    """``##reference`` reduced to a file name (no directories, hosts or dates)."""
    name = re.split(r"[/\\]", value.strip().rstrip("/"))[-1]
    name = scrub_text(name)
    return f"##reference={name}" if name and "<" not in name else None


def _allele_counts(rec: object, n_alt: int) -> tuple[list[int], int]:
    """ALT allele counts and called allele number over the record's (kept) samples."""
    ac = [0] * n_alt
    an = 0
    for smp in rec.samples.values():  # type: ignore[attr-defined]
        gt = smp.get("GT")
        if not gt:
            continue
        for a in gt:
            if a is None:
                continue
            an += 1
            if 0 < a <= n_alt:
                ac[a - 1] += 1
    return ac, an


def deidentify_vcf(
    src: Path,
    dst: Path,
    pseudonymiser: Pseudonymiser,
    *,
    samples: Iterable[str] | None = None,
    drop_info: Iterable[str] = (),
    keep_info: Iterable[str] | None = None,
    drop_ids: bool = False,
    min_ac: int | None = None,
) -> ExportResult:
    """Write a de-identified copy of a VCF: pseudonymised samples, scrubbed header.

    Parameters
    ----------
    src, dst
        Input VCF/BCF and output path (``.vcf.gz`` / ``.bcf`` by suffix; must not exist).
    pseudonymiser
        Issues the sample pseudonyms (its mapping gains the exported samples).
    samples
        Samples to export (e.g. those whose consent allows the study); default: all.
    drop_info, keep_info
        INFO fields to remove, or the only INFO fields to keep.
    drop_ids
        Also blank the ID column.
    min_ac
        Drop every record with an ALT allele carried fewer than ``min_ac`` times by the
        exported samples (called genotypes). ``1`` drops sites where no exported sample
        carries the ALT (they would describe excluded samples only); ``k > 1`` also drops
        rare variants, which are the most identifying (a singleton points to one person
        and their relatives). ``None`` keeps every record.

    Returns
    -------
    ExportResult

    Raises
    ------
    InputMissingError
        If ``src`` does not exist.
    MalformedInputError
        If ``src`` is not a readable VCF/BCF.
    InconsistentInputError
        If a requested sample is not in the VCF.
    UsageError
        If ``dst`` exists or ``min_ac`` is negative.

    Notes
    -----
    Header: only ``##fileformat``, ``##reference`` (reduced to a file name) and
    FILTER/INFO/FORMAT/contig/ALT definitions are kept; ``##SAMPLE``, ``##PEDIGREE``,
    ``##fileDate``, ``##source``, command lines and any other free-text line (which can
    hold names, paths, dates) are dropped, and the kept definitions are scrubbed
    (:func:`scrub_text`: paths, URLs, dates, e-mail addresses; contig lines keep only
    ID, length, assembly, md5, species and taxonomy, and lose a path-like value). The
    contig lengths, which identify the genome build, stay.

    When samples are left out, ``AC``/``AN``/``AF`` are recomputed over the exported
    samples and the other genotype summaries (:data:`COHORT_SUMMARY_INFO`) are dropped;
    other site-level aggregates (``QUAL``, ``INFO/DP``, ...) still reflect the whole input
    (drop them with ``drop_info`` or ``keep_info``).

    Genotypes are data: a genome is identifying in itself; de-identification here removes
    direct identifiers (and, with ``min_ac``, rare variants) only, and exports still need
    a data-access agreement.
    """
    import pysam

    src, dst = Path(src), Path(dst)
    if min_ac is not None and min_ac < 0:
        raise UsageError("min_ac must be >= 0")
    if not src.is_file():
        raise InputMissingError("VCF not found", path=src)
    if dst.exists():
        raise UsageError("output exists", path=dst)
    try:
        with quiet_htslib():
            vf = pysam.VariantFile(str(src))
    except (OSError, ValueError) as exc:
        raise MalformedInputError(f"cannot read VCF: {exc}", path=src) from exc
    with vf:
        all_samples = list(vf.header.samples)
        chosen = list(samples) if samples is not None else all_samples
        missing = [s for s in chosen if s not in all_samples]
        if missing:
            raise InconsistentInputError(f"samples not in the VCF: {missing}", path=src)
        subset = chosen != all_samples
        if subset:
            vf.subset_samples(chosen)
        info_ids = [r.get("ID") for r in vf.header.records if r.type == "INFO"]
        drop = set(drop_info)
        if keep_info is not None:
            drop |= set(info_ids) - set(keep_info)
        if subset:
            drop |= COHORT_SUMMARY_INFO & set(info_ids)
        hinfo = vf.header.info
        recompute = [
            k
            for k, num in (("AC", "A"), ("AN", 1), ("AF", "A"))
            if subset and k in hinfo and k not in drop and hinfo[k].number == num
        ]
        drop |= {k for k in ("AC", "AN", "AF") if subset and k in hinfo} - set(recompute)
        hdr = pysam.VariantHeader()
        dropped = scrubbed = 0
        for r in vf.header.records:
            if r.type == "GENERIC" and r.key == "reference":
                line = _reference_line(str(r.value))
                if line is None:
                    dropped += 1
                else:
                    scrubbed += line != f"##reference={r.value}"
                    hdr.add_line(line)
                continue
            if r.type not in KEEP_HEADER_TYPES or (r.type == "INFO" and r.get("ID") in drop):
                dropped += 1
                continue
            line, changed = _header_line(r)
            scrubbed += changed
            hdr.add_line(line)
        names = {s: pseudonymiser.pseudonym(s) for s in chosen}
        for s in chosen:
            hdr.add_sample(names[s])
        mode = "wb" if dst.suffix == ".bcf" else "wz" if dst.name.endswith(".gz") else "w"
        tmp = dst.with_name(f".{dst.name}.part")
        n = rare = 0
        try:
            with pysam.VariantFile(str(tmp), mode, header=hdr) as out:
                for rec in vf:
                    n_alt = len(rec.alts or ())
                    if min_ac is not None or recompute:
                        ac, an = _allele_counts(rec, n_alt)
                        if min_ac is not None and n_alt and min(ac) < min_ac:
                            rare += 1
                            continue
                    for k in drop & set(rec.info.keys()):
                        del rec.info[k]
                    if recompute and n_alt:
                        if "AC" in recompute:
                            rec.info["AC"] = tuple(ac)
                        if "AN" in recompute:
                            rec.info["AN"] = an
                        if "AF" in recompute:
                            if an:
                                rec.info["AF"] = tuple(c / an for c in ac)
                            elif "AF" in rec.info:
                                del rec.info["AF"]
                    if drop_ids:
                        rec.id = None
                    rec.translate(hdr)
                    out.write(rec)
                    n += 1
            os.replace(tmp, dst)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return ExportResult(
        str(dst),
        names,
        n,
        dropped,
        sorted(drop & set(info_ids)),
        dropped_rare=rare,
        recomputed_info=recompute,
        scrubbed_header_values=scrubbed,
    )
