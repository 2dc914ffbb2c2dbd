"""PED (PLINK / Mendelian pedigree) files.

Six whitespace-separated columns per person::

    family_id  individual_id  paternal_id  maternal_id  sex  phenotype

``0`` is an unknown parent; sex is ``1`` male, ``2`` female, ``0`` unknown (``other``
is read as unknown too); phenotype is ``2`` affected, ``1`` unaffected, ``0`` or ``-9``
unknown. Lines starting with ``#`` (and empty lines) are skipped; a trailing ``#``
comment is not allowed (it would be a column). Extra columns (PLINK genotype columns)
are rejected: this reader is for pedigrees.
"""

from __future__ import annotations

from pathlib import Path

from genoma.errors import InputMissingError, MalformedInputError
from genoma.model.subject import PedigreeMember

__all__ = ["read_ped"]

_SEX = {"1": "MALE", "2": "FEMALE", "0": "UNKNOWN_SEX", "other": "UNKNOWN_SEX"}
_AFFECTED = {"2": True, "1": False, "0": None, "-9": None}


def read_ped(path: str | Path) -> tuple[PedigreeMember, ...]:
    """Read a PED file into pedigree members, checking its consistency.

    Parameters
    ----------
    path
        The PED file.

    Returns
    -------
    tuple of PedigreeMember
        In file order.

    Raises
    ------
    InputMissingError
        The file does not exist or cannot be read (exit 3).
    MalformedInputError
        Naming the line: wrong column count, unknown sex or phenotype code, duplicate
        individual, self-parenting, a parent absent from the family, a father recorded
        as female or a mother as male, or no person at all (exit 4).
    """
    p = Path(path)
    if not p.exists():
        raise InputMissingError("PED file not found", path=p)
    if not p.is_file():
        raise InputMissingError("PED path is not a file", path=p)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedInputError(f"not UTF-8 text ({exc.reason})", path=p) from exc
    except OSError as exc:
        raise InputMissingError(f"PED file is not readable ({exc})", path=p) from exc

    members: list[PedigreeMember] = []
    lines: dict[tuple[str, str], int] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        cols = s.split()
        if len(cols) != 6:
            raise MalformedInputError(
                f"expected 6 columns (family, individual, father, mother, sex, phenotype), "
                f"found {len(cols)}", path=p, line=n)
        fam, ind, pat, mat, sex, phen = cols
        if ind == "0":
            raise MalformedInputError("individual id '0' is reserved for 'unknown'",
                                      path=p, line=n)
        if sex not in _SEX:
            raise MalformedInputError(f"sex code {sex!r} is not 0, 1 or 2", path=p, line=n)
        if phen not in _AFFECTED:
            raise MalformedInputError(f"phenotype {phen!r} is not 0, 1, 2 or -9", path=p,
                                      line=n)
        if (fam, ind) in lines:
            raise MalformedInputError(
                f"individual {ind!r} of family {fam!r} already defined on line "
                f"{lines[(fam, ind)]}", path=p, line=n)
        if ind in (pat, mat):
            raise MalformedInputError(f"individual {ind!r} is its own parent", path=p, line=n)
        if pat != "0" and pat == mat:
            raise MalformedInputError(f"father and mother are the same person {pat!r}",
                                      path=p, line=n)
        lines[(fam, ind)] = n
        members.append(PedigreeMember(
            family_id=fam, individual_id=ind, paternal_id=pat, maternal_id=mat,
            sex=_SEX[sex], affected=_AFFECTED[phen]))  # type: ignore[arg-type]
    if not members:
        raise MalformedInputError("the PED file lists no person", path=p)
    by_key = {(m.family_id, m.individual_id): m for m in members}
    for m in members:
        n = lines[(m.family_id, m.individual_id)]
        for role, pid, bad_sex in (("father", m.paternal_id, "FEMALE"),
                                   ("mother", m.maternal_id, "MALE")):
            if pid == "0":
                continue
            parent = by_key.get((m.family_id, pid))
            if parent is None:
                raise MalformedInputError(
                    f"the {role} {pid!r} of {m.individual_id!r} is not in family "
                    f"{m.family_id!r}", path=p, line=n)
            if parent.sex == bad_sex:
                raise MalformedInputError(
                    f"the {role} {pid!r} of {m.individual_id!r} is recorded as "
                    f"{bad_sex.lower()}", path=p, line=n)
    return tuple(members)
