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
import hashlib
import hmac
import json
import os
from collections.abc import Iterable
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
    "KEEP_HEADER_TYPES",
    "ExportResult",
    "Pseudonymiser",
    "deidentify_vcf",
]

_AD = b"genoma-pseudonym-map-v1"
KEEP_HEADER_TYPES = frozenset({"FILTER", "INFO", "FORMAT", "CONTIG", "ALT"})
"""Header record types kept in a de-identified VCF (besides ``##fileformat``)."""


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


def deidentify_vcf(
    src: Path,
    dst: Path,
    pseudonymiser: Pseudonymiser,
    *,
    samples: Iterable[str] | None = None,
    drop_info: Iterable[str] = (),
    keep_info: Iterable[str] | None = None,
    drop_ids: bool = False,
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

    Returns
    -------
    ExportResult

    Notes
    -----
    The header keeps only ``##fileformat`` and FILTER/INFO/FORMAT/contig/ALT definitions:
    ``##SAMPLE``, ``##PEDIGREE``, ``##fileDate``, ``##source``, command lines and any
    other free-text line (which can hold names, paths, dates) are dropped. Genotypes are
    data: a genome is identifying in itself; de-identification here removes direct
    identifiers only, and exports still need a data-access agreement.
    """
    import pysam

    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise InputMissingError("VCF not found", path=src)
    if dst.exists():
        raise UsageError("output exists", path=dst)
    try:
        vf = pysam.VariantFile(str(src))
    except (OSError, ValueError) as exc:
        raise MalformedInputError(f"cannot read VCF: {exc}", path=src) from exc
    with vf:
        all_samples = list(vf.header.samples)
        chosen = list(samples) if samples is not None else all_samples
        missing = [s for s in chosen if s not in all_samples]
        if missing:
            raise InconsistentInputError(f"samples not in the VCF: {missing}", path=src)
        if chosen != all_samples:
            vf.subset_samples(chosen)
        info_ids = [r.get("ID") for r in vf.header.records if r.type == "INFO"]
        drop = set(drop_info)
        if keep_info is not None:
            drop |= set(info_ids) - set(keep_info)
        hdr = pysam.VariantHeader()
        dropped = 0
        for r in vf.header.records:
            if r.type not in KEEP_HEADER_TYPES or (r.type == "INFO" and r.get("ID") in drop):
                dropped += 1
                continue
            hdr.add_record(r)
        names = {s: pseudonymiser.pseudonym(s) for s in chosen}
        for s in chosen:
            hdr.add_sample(names[s])
        mode = "wb" if dst.suffix == ".bcf" else "wz" if dst.name.endswith(".gz") else "w"
        tmp = dst.with_name(f".{dst.name}.part")
        n = 0
        try:
            with pysam.VariantFile(str(tmp), mode, header=hdr) as out:
                for rec in vf:
                    for k in drop & set(rec.info.keys()):
                        del rec.info[k]
                    if drop_ids:
                        rec.id = None
                    rec.translate(hdr)
                    out.write(rec)
                    n += 1
            os.replace(tmp, dst)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return ExportResult(str(dst), names, n, dropped, sorted(drop & set(info_ids)))
