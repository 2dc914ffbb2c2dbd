"""Read a table in the IWPC warfarin column layout into normalised features.

The International Warfarin Pharmacogenetics Consortium (IWPC) released its cohort through
PharmGKB as a spreadsheet with one row per patient (``PharmGKB Subject ID``, ``Race``,
``Age`` as a decade bin, ``Height (cm)``, ``Weight (kg)``, medications as 0/1 columns,
CYP2C9 and VKORC1 genotypes, ``Therapeutic Dose of Warfarin`` in mg/week …).
:func:`read_iwpc_table` reads such a table (CSV, or tab-separated when the file name ends
in ``.tsv``/``.txt``) and returns a :class:`pandas.DataFrame` with one row per patient and
the columns listed in :data:`FEATURE_COLUMNS`. Only ``PharmGKB Subject ID`` is required;
every other column may be absent (its feature is then missing). Values that cannot be
read raise :class:`~genoma.errors.MalformedInputError` naming the file and line.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import pandas as pd

from genoma.errors import InputMissingError, MalformedInputError

__all__ = [
    "FEATURE_COLUMNS",
    "normalise_cyp2c9",
    "normalise_genotype",
    "normalise_race",
    "read_iwpc_table",
]

ID_COLUMN = "PharmGKB Subject ID"

#: 0/1 columns of the IWPC layout → normalised feature name.
BINARY_COLUMNS: dict[str, str] = {
    "Diabetes": "diabetes",
    "Congestive Heart Failure and/or Cardiomyopathy": "chf",
    "Valve Replacement": "valve_replacement",
    "Aspirin": "aspirin",
    "Acetaminophen or Paracetamol (Tylenol)": "acetaminophen",
    "Simvastatin (Zocor)": "simvastatin",
    "Atorvastatin (Lipitor)": "atorvastatin",
    "Fluvastatin (Lescol)": "fluvastatin",
    "Lovastatin (Mevacor)": "lovastatin",
    "Pravastatin (Pravachol)": "pravastatin",
    "Rosuvastatin (Crestor)": "rosuvastatin",
    "Cerivastatin (Baycol)": "cerivastatin",
    "Amiodarone (Cordarone)": "amiodarone",
    "Carbamazepine (Tegretol)": "carbamazepine",
    "Phenytoin (Dilantin)": "phenytoin",
    "Rifampin or Rifampicin": "rifampin",
    "Sulfonamide Antibiotics": "sulfonamide",
    "Macrolide Antibiotics": "macrolide",
    "Anti-fungal Azoles": "azole",
    "Herbal Medications, Vitamins, Supplements": "herbal",
    "Current Smoker": "smoker",
    "Subject Reached Stable Dose of Warfarin": "stable_dose",
}

#: VKORC1 SNP → (feature name, consensus column, original column prefix, allowed alleles).
VKORC1_SNPS: dict[str, tuple[str, str, str, str]] = {
    "rs9923231": ("vkorc1_1639", "VKORC1 -1639 consensus", "VKORC1 genotype: -1639 G>A", "AG"),
    "rs2884737": ("vkorc1_497", "VKORC1 497 consensus", "VKORC1 genotype: 497T>G", "GT"),
    "rs9934438": ("vkorc1_1173", "VKORC1 1173 consensus", "VKORC1 genotype: 1173 C>T", "CT"),
    "rs8050894": ("vkorc1_1542", "VKORC1 1542 consensus", "VKORC1 genotype: 1542G>C", "CG"),
    "rs7294": ("vkorc1_3730", "VKORC1 3730 consensus", "VKORC1 genotype: 3730 G>A", "AG"),
    "rs2359612": ("vkorc1_2255", "VKORC1 2255 consensus", "VKORC1 genotype: 2255C>T", "CT"),
    "rs17880887": ("vkorc1_m4451", "VKORC1 -4451 consensus", "VKORC1 genotype: -4451 C>A", "AC"),
}

INDICATIONS: dict[int, str] = {
    1: "ind_dvt",
    2: "ind_pe",
    3: "ind_af",
    4: "ind_valve",
    5: "ind_cardiomyopathy",
    6: "ind_stroke",
    7: "ind_orthopedic",
    8: "ind_other",
}

#: The columns of the frame :func:`read_iwpc_table` returns, in order.
FEATURE_COLUMNS: tuple[str, ...] = (
    "id",
    "sex",
    "race",
    "age_decade",
    "height_cm",
    "weight_kg",
    *INDICATIONS.values(),
    *BINARY_COLUMNS.values(),
    "target_inr",
    "cyp2c9",
    *(v[0] for v in VKORC1_SNPS.values()),
    "dose_mg_week",
)

_RACES = {
    "white": "white",
    "caucasian": "white",
    "asian": "asian",
    "black or african american": "black",
    "black": "black",
    "african american": "black",
    "african-american": "black",
    "unknown": "mixed_or_missing",
    "mixed": "mixed_or_missing",
    "other": "mixed_or_missing",
    "other mixed race": "mixed_or_missing",
    "": "mixed_or_missing",
    "na": "mixed_or_missing",
}
_AGE = re.compile(r"\s*(\d{1,2})0\s*-\s*\d{1,2}9\s*|\s*(\d)0\s*\+\s*|\s*(0)\s*-\s*9\s*")
_STAR = re.compile(r"^\*(\d+[A-Z]?)$")
_MISSING = {"", "na", "n/a", "nan", "null", "unknown", "-99"}


def normalise_race(value: str | None) -> str:
    """Map a race label to ``white``, ``asian``, ``black`` or ``mixed_or_missing``.

    Parameters
    ----------
    value
        A race as written in the IWPC ``Race`` column (OMB categories) or a close synonym.

    Returns
    -------
    str
        The normalised category.

    Raises
    ------
    ValueError
        For a label that is none of the known categories.
    """
    key = (value or "").strip().lower()
    if key not in _RACES:
        raise ValueError(f"unknown race {value!r} (White, Asian, Black or African American, "
                         "Unknown)")
    return _RACES[key]


def normalise_genotype(value: str | None, alleles: str) -> str | None:
    """Normalise an unphased SNP genotype such as ``G/A`` to ``A/G`` (sorted alleles).

    Parameters
    ----------
    value
        The genotype text (``A/G``, ``G/A``, ``AG`` …); empty or ``NA`` means missing.
    alleles
        The two alleles the SNP may carry (e.g. ``"AG"``).

    Returns
    -------
    str or None
        ``X/Y`` with the alleles in alphabetical order, or ``None`` when missing.

    Raises
    ------
    ValueError
        When the text is not a genotype of the allowed alleles.
    """
    text = (value or "").strip()
    if text.lower() in _MISSING:
        return None
    parts = [p.strip().upper() for p in re.split(r"[/|]", text)] if ("/" in text or "|" in text) \
        else list(text.upper())
    if len(parts) != 2 or any(p not in alleles for p in parts):
        raise ValueError(f"not a genotype of alleles {'/'.join(alleles)}: {value!r}")
    return "/".join(sorted(parts))


def normalise_cyp2c9(value: str | None) -> str | None:
    """Normalise a CYP2C9 diplotype to ``*a/*b`` with the lower allele first.

    Returns ``None`` for a missing value; raises :class:`ValueError` for text that is not
    a star-allele diplotype.
    """
    text = (value or "").strip()
    if text.lower() in _MISSING:
        return None
    parts = [p.strip() for p in text.split("/")]
    if len(parts) != 2 or not all(_STAR.match(p) for p in parts):
        raise ValueError(f"not a CYP2C9 diplotype (*1/*3): {value!r}")

    def key(a: str) -> tuple[int, str]:
        m = re.match(r"\*(\d+)(.*)", a)
        assert m is not None
        return int(m.group(1)), m.group(2)

    return "/".join(sorted(parts, key=key))


def _age_decade(value: str) -> float:
    text = value.strip()
    if text.lower() in _MISSING:
        return math.nan
    m = _AGE.fullmatch(text)
    if m is None:
        raise ValueError(f"age is not an IWPC decade bin ('60 - 69', '90+'): {value!r}")
    return float(next(g for g in m.groups() if g is not None))


def _number(value: str, what: str, low: float, high: float) -> float:
    text = value.strip()
    if text.lower() in _MISSING:
        return math.nan
    try:
        x = float(text)
    except ValueError:
        raise ValueError(f"{what} is not a number: {value!r}") from None
    if not (low <= x <= high):
        raise ValueError(f"{what} out of range [{low:g}, {high:g}]: {value!r}")
    return x


def _binary(value: str, what: str) -> float:
    text = value.strip()
    if text.lower() in _MISSING:
        return math.nan
    try:
        x = float(text)
    except ValueError:
        x = math.nan
    if x not in (0.0, 1.0):
        raise ValueError(f"{what} must be 0, 1 or empty: {value!r}")
    return x


def _indications(value: str) -> dict[str, float]:
    text = value.strip()
    out = dict.fromkeys(INDICATIONS.values(), math.nan)
    if text.lower() in _MISSING:
        return out
    codes = [c for c in re.split(r";|\bor\b|,", text) if c.strip()]
    out = dict.fromkeys(INDICATIONS.values(), 0.0)
    for c in codes:
        c = c.strip()
        if c.upper() == "NA":
            continue
        if not c.isdigit() or int(c) not in INDICATIONS:
            raise ValueError(f"indication must be codes 1-8 separated by ';': {value!r}")
        out[INDICATIONS[int(c)]] = 1.0
    return out


def _genotype_column(header: list[str], consensus: str, prefix: str) -> tuple[int | None,
                                                                              int | None]:
    cons = header.index(consensus) if consensus in header else None
    orig = next((i for i, h in enumerate(header) if h.startswith(prefix)), None)
    return cons, orig


def read_iwpc_table(path: str | Path) -> pd.DataFrame:
    """Read a table in the IWPC column layout into normalised warfarin features.

    Parameters
    ----------
    path
        CSV (or TSV) file with a header row in the IWPC layout (as PharmGKB's
        ``iwpc_data`` spreadsheet exported to CSV).

    Returns
    -------
    pandas.DataFrame
        One row per patient with the columns :data:`FEATURE_COLUMNS`: ``id`` (PharmGKB
        subject id), ``sex``, ``race`` (``white``/``asian``/``black``/``mixed_or_missing``),
        ``age_decade`` (the decade of the IWPC age bin, ``60 - 69`` → 6), ``height_cm``,
        ``weight_kg``, indication flags ``ind_*``, 0/1 flags of medications and
        comorbidities (NaN when not recorded), ``target_inr``, ``cyp2c9`` (``*1/*3``),
        VKORC1 genotypes (``vkorc1_1639`` = -1639 G>A, rs9923231, as ``A/G``; the other
        VKORC1 SNPs in the notation of the IWPC columns) and ``dose_mg_week`` (the
        therapeutic dose, NaN when absent). Genotypes come from the ``consensus`` columns
        when the table has them (an empty consensus, set by IWPC where the original and
        QC genotypes disagree, stays missing), else from the original genotype columns.

    Raises
    ------
    InputMissingError
        When the file does not exist or cannot be read (exit 3).
    MalformedInputError
        When the header lacks ``PharmGKB Subject ID``, a row has the wrong number of
        fields, or a value cannot be read; the message names the file and line (exit 4).
    """
    p = Path(path)
    if not p.is_file():
        raise InputMissingError("IWPC table not found", path=p)
    delimiter = "\t" if p.suffix.lower() in {".tsv", ".txt"} else ","
    try:
        fh = open(p, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputMissingError(f"cannot read IWPC table: {exc.strerror}", path=p) from exc
    records: list[dict[str, object]] = []
    with fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise MalformedInputError("empty file: no header row", path=p, line=1) from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise MalformedInputError(f"unreadable header: {exc}", path=p, line=1) from None
        if ID_COLUMN not in header:
            raise MalformedInputError(f"header has no {ID_COLUMN!r} column (not the IWPC "
                                      "layout)", path=p, line=1)
        col = {h: i for i, h in enumerate(header)}
        geno_cols = {snp: _genotype_column(header, cons, prefix)
                     for snp, (_, cons, prefix, _) in VKORC1_SNPS.items()}
        cyp_cols = (col.get("CYP2C9 consensus"), col.get("Cyp2C9 genotypes"))
        seen: set[str] = set()
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except (csv.Error, UnicodeDecodeError) as exc:
                raise MalformedInputError(f"unreadable CSV record: {exc}", path=p,
                                          line=reader.line_num) from None
            line = reader.line_num
            if not any(f.strip() for f in row):
                continue
            if len(row) != len(header):
                raise MalformedInputError(
                    f"row has {len(row)} fields, header has {len(header)}", path=p, line=line)
            try:
                records.append(_parse_row(row, col, geno_cols, cyp_cols, seen))
            except ValueError as exc:
                raise MalformedInputError(str(exc), path=p, line=line) from None
    frame = pd.DataFrame.from_records(records, columns=list(FEATURE_COLUMNS))
    return frame


def _get(row: list[str], col: dict[str, int], name: str) -> str:
    i = col.get(name)
    return row[i] if i is not None else ""


def _first(row: list[str], *idx: int | None) -> str:
    """The value of the first column that exists in the header (consensus first).

    A consensus column that exists but is empty stays empty: the IWPC consensus is
    deliberately NA where the original and QC genotypes disagree.
    """
    for i in idx:
        if i is not None:
            return row[i]
    return ""


def _parse_row(row: list[str], col: dict[str, int],
               geno_cols: dict[str, tuple[int | None, int | None]],
               cyp_cols: tuple[int | None, int | None], seen: set[str]) -> dict[str, object]:
    sid = row[col[ID_COLUMN]].strip()
    if not sid:
        raise ValueError(f"empty {ID_COLUMN}")
    if sid in seen:
        raise ValueError(f"duplicate {ID_COLUMN} {sid!r}")
    seen.add(sid)
    sex = _get(row, col, "Gender").strip().lower()
    if sex in _MISSING:
        sex = ""
    elif sex not in {"male", "female"}:
        raise ValueError(f"Gender must be male, female or empty: {sex!r}")
    rec: dict[str, object] = {
        "id": sid,
        "sex": sex or None,
        "race": normalise_race(_get(row, col, "Race")),
        "age_decade": _age_decade(_get(row, col, "Age")),
        "height_cm": _number(_get(row, col, "Height (cm)"), "height (cm)", 30, 260),
        "weight_kg": _number(_get(row, col, "Weight (kg)"), "weight (kg)", 2, 400),
        "target_inr": _number(_get(row, col, "Target INR"), "target INR", 0.5, 6),
        "dose_mg_week": _number(_get(row, col, "Therapeutic Dose of Warfarin"),
                                "therapeutic dose (mg/week)", 0, 1000),
    }
    rec.update(_indications(_get(row, col, "Indication for Warfarin Treatment")))
    for name, feat in BINARY_COLUMNS.items():
        rec[feat] = _binary(_get(row, col, name), name)
    cyp_text = _first(row, *cyp_cols)
    rec["cyp2c9"] = normalise_cyp2c9(cyp_text)
    for snp, (feat, _, _, alleles) in VKORC1_SNPS.items():
        text = _first(row, *geno_cols[snp])
        try:
            rec[feat] = normalise_genotype(text, alleles)
        except ValueError as exc:
            raise ValueError(f"VKORC1 {snp}: {exc}") from None
    return rec
