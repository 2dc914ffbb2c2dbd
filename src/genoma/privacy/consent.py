"""Consent in GA4GH Data Use Ontology (DUO) terms, matched against a declared purpose.

A subject's consent is one *permission* (what kind of use: NRES, GRU, HMB, DS, POA, or CC
for secondary clinical use) plus *modifiers* (conditions: NPU, NCU, IRB, GS, PUB, COL,
RTN, MOR, TS, US, PS, IS, GSO, NMDS, NPOA, RS). A request declares a :class:`Purpose`;
:func:`check_consent` returns the reasons it is not allowed (empty when allowed).

Matching rules (after the DUO definitions and the GA4GH DUO matching guidance):

* ``clinical_care`` (care of this very subject) is decided by the care team, not by
  research consent: see :mod:`genoma.privacy.access`.
* ``clinical_use`` (secondary clinical use, e.g. as a reference for other patients) needs
  NRES or CC.
* ``research`` needs a research permission: NRES or GRU allow any research type; HMB allows
  health/medical/biomedical research (health, disease, methods for them) but not
  population-origins/ancestry research nor non-health ``general`` research; DS
  allows only research on one of the consented diseases; POA allows only
  population-origins/ancestry research.
* Each modifier must be met by the request: NPU → not-for-profit organisation; NCU →
  non-commercial use; NPUNCU → both; IRB → ethics approval; PUB, COL, RTN, MOR →
  the requester accepts publication / collaboration / return of derived data /
  the moratorium date; TS → before the expiry date; GS → requester's region allowed;
  US/PS/IS → approved user/project/institution; GSO → a genetic study; NMDS → not methods
  development; NPOA → not ancestry research; RS → research type in the allowed list.
* A code genoma does not know denies (fail closed).

References
----------
.. [1] Lawson J. et al. (2021) The Data Use Ontology to streamline responsible access to
   human biomedical datasets. Cell Genomics 1(2):100028. doi:10.1016/j.xgen.2021.100028
.. [2] DUO, https://github.com/EBISPOT/DUO (CC BY 4.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from genoma.errors import MalformedInputError

__all__ = [
    "DUO_TERMS",
    "MODIFIERS",
    "PERMISSIONS",
    "ConsentRecord",
    "DuoTerm",
    "Purpose",
    "check_consent",
    "consent_from_model",
    "duo_term",
]


@dataclass(frozen=True)
class DuoTerm:
    """One DUO term: shorthand, ontology id, label, and whether it is a permission."""

    code: str
    id: str
    label: str
    permission: bool


# Embedded from DUO (duo.csv in the shared standards folder; checked by a test).
DUO_TERMS: dict[str, DuoTerm] = {
    t.code: t
    for t in (
        DuoTerm("NRES", "DUO:0000004", "no restriction", True),
        DuoTerm("GRU", "DUO:0000042", "general research use", True),
        DuoTerm("HMB", "DUO:0000006", "health or medical or biomedical research", True),
        DuoTerm("DS", "DUO:0000007", "disease specific research", True),
        DuoTerm("POA", "DUO:0000011", "population origins or ancestry research only", True),
        DuoTerm("CC", "DUO:0000043", "clinical care use", False),
        DuoTerm("NPU", "DUO:0000045", "not for profit organisation use only", False),
        DuoTerm("NCU", "DUO:0000046", "non-commercial use only", False),
        DuoTerm("NPUNCU", "DUO:0000018", "not for profit, non commercial use only", False),
        DuoTerm("IRB", "DUO:0000021", "ethics approval required", False),
        DuoTerm("GS", "DUO:0000022", "geographical restriction", False),
        DuoTerm("PUB", "DUO:0000019", "publication required", False),
        DuoTerm("COL", "DUO:0000020", "collaboration required", False),
        DuoTerm("RTN", "DUO:0000029", "return to database or resource", False),
        DuoTerm("MOR", "DUO:0000024", "publication moratorium", False),
        DuoTerm("TS", "DUO:0000025", "time limit on use", False),
        DuoTerm("US", "DUO:0000026", "user specific restriction", False),
        DuoTerm("PS", "DUO:0000027", "project specific restriction", False),
        DuoTerm("IS", "DUO:0000028", "institution specific restriction", False),
        DuoTerm("GSO", "DUO:0000016", "genetic studies only", False),
        DuoTerm("NMDS", "DUO:0000015", "no general methods research", False),
        DuoTerm("NPOA", "DUO:0000044", "population origins or ancestry research prohibited", False),
        DuoTerm("RS", "DUO:0000012", "research specific restrictions", False),
    )
}
PERMISSIONS = frozenset(c for c, t in DUO_TERMS.items() if t.permission)
MODIFIERS = frozenset(c for c, t in DUO_TERMS.items() if not t.permission)
_BY_ID = {t.id: t for t in DUO_TERMS.values()}

PurposeKind = Literal["clinical_care", "clinical_use", "research", "self"]
ResearchType = Literal["general", "health", "disease", "ancestry", "methods"]


def duo_term(code_or_id: str) -> DuoTerm:
    """Look up a DUO term by shorthand (``HMB``) or id (``DUO:0000006``).

    Raises
    ------
    MalformedInputError
        For a code genoma does not know.
    """
    t = DUO_TERMS.get(code_or_id.upper()) or _BY_ID.get(code_or_id.upper())
    if t is None:
        raise MalformedInputError(f"unknown DUO code {code_or_id!r}")
    return t


@dataclass(frozen=True)
class Purpose:
    """The declared purpose of a request (and the commitments of the requester).

    Attributes
    ----------
    kind
        ``clinical_care`` (this subject's care), ``clinical_use`` (secondary clinical
        use), ``research``, or ``self`` (a patient reading their own data).
    research_type
        For research: ``general``, ``health``, ``disease`` (give ``disease``),
        ``ancestry`` or ``methods``.
    disease
        Disease studied (MONDO/OMIM/ORPHA id) for disease-specific research.
    commercial, not_for_profit
        Commercial use? Is the requesting organisation not-for-profit?
    irb_approved
        Ethics (IRB/ERB) approval documented.
    region
        Requester's region/country code (e.g. ``EU``, ``FR``).
    project, institution
        Approved project and institution of the requester.
    genetic_study
        The study includes genotype research.
    accepts
        Commitments accepted: any of ``PUB``, ``COL``, ``RTN``, ``MOR``.
    on
        Date of the request (default: today) for TS.
    """

    kind: PurposeKind
    research_type: ResearchType = "general"
    disease: str | None = None
    commercial: bool = False
    not_for_profit: bool = True
    irb_approved: bool = False
    region: str | None = None
    project: str | None = None
    institution: str | None = None
    genetic_study: bool = True
    accepts: frozenset[str] = frozenset()
    on: date | None = None

    def label(self) -> str:
        """Short text for the audit log (``research:disease:MONDO:0005148``)."""
        if self.kind != "research":
            return self.kind
        return f"research:{self.research_type}" + (f":{self.disease}" if self.disease else "")

    @classmethod
    def parse(cls, text: str, **kw: object) -> Purpose:
        """Parse ``clinical_care``, ``clinical_use``, ``self``, ``research``,
        ``research:health``, ``research:ancestry``, ``research:methods`` or
        ``research:disease:MONDO:0005148``; keyword arguments set the other fields.

        Raises
        ------
        MalformedInputError
            On an unknown purpose.
        """
        parts = text.strip().split(":", 2)
        kind = parts[0]
        if kind not in ("clinical_care", "clinical_use", "research", "self"):
            raise MalformedInputError(f"unknown purpose {text!r}")
        if kind != "research":
            if len(parts) > 1:
                raise MalformedInputError(f"purpose {kind} takes no qualifier: {text!r}")
            return cls(kind=kind, **kw)  # type: ignore[arg-type]
        rtype = parts[1] if len(parts) > 1 else "general"
        if rtype not in ("general", "health", "disease", "ancestry", "methods"):
            raise MalformedInputError(f"unknown research type {rtype!r} in {text!r}")
        disease = parts[2] if len(parts) > 2 else None
        if rtype == "disease" and not disease:
            raise MalformedInputError(
                "disease research needs a disease id: research:disease:MONDO:..."
            )
        return cls(kind="research", research_type=rtype, disease=disease, **kw)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ConsentRecord:
    """One subject's consent: DUO codes and the parameters some of them need.

    Attributes
    ----------
    subject
        Subject id.
    codes
        DUO shorthands (``GRU``, ``HMB``, ``DS``, ``NPU``...).
    diseases
        For DS: consented disease ids.
    regions
        For GS: allowed regions.
    users, projects, institutions
        For US / PS / IS.
    research_types
        For RS: allowed research types.
    expires
        For TS: last day of permitted use.
    moratorium
        For MOR: no publication before this date.
    withdrawn
        Consent withdrawn: every use other than the subject's own care is denied.
    """

    subject: str
    codes: frozenset[str] = frozenset()
    diseases: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()
    projects: frozenset[str] = frozenset()
    institutions: frozenset[str] = frozenset()
    research_types: frozenset[str] = frozenset()
    expires: date | None = None
    moratorium: date | None = None
    withdrawn: bool = False
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        normal = frozenset(duo_term(c).code for c in self.codes)
        object.__setattr__(self, "codes", normal)

    @property
    def permissions(self) -> frozenset[str]:
        """The permission codes."""
        return self.codes & PERMISSIONS

    @property
    def modifiers(self) -> frozenset[str]:
        """The modifier codes."""
        return self.codes & MODIFIERS

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> ConsentRecord:
        """Build from a JSON/YAML mapping (lists for sets, ISO dates)."""

        def fs(key: str) -> frozenset[str]:
            v = d.get(key) or []
            if isinstance(v, str):
                v = [v]
            return frozenset(str(x) for x in v)  # type: ignore[union-attr]

        def dt(key: str) -> date | None:
            v = d.get(key)
            return date.fromisoformat(str(v)) if v else None

        return cls(
            subject=str(d["subject"]),
            codes=fs("codes"),
            diseases=fs("diseases"),
            regions=fs("regions"),
            users=fs("users"),
            projects=fs("projects"),
            institutions=fs("institutions"),
            research_types=fs("research_types"),
            expires=dt("expires"),
            moratorium=dt("moratorium"),
            withdrawn=bool(d.get("withdrawn", False)),
        )


def consent_from_model(subject: str, consent: object) -> ConsentRecord:
    """Convert :class:`genoma.model.subject.Consent` (``duo_codes`` + ``restrictions``).

    ``restrictions`` are ``KEY:value`` strings: ``DS:MONDO:0005148``, ``GS:EU``,
    ``US:alice``, ``PS:proj1``, ``IS:inst``, ``RS:health``, ``TS:2030-12-31``,
    ``MOR:2027-01-01``.
    """
    codes = list(getattr(consent, "duo_codes", ()))
    buckets: dict[str, set[str]] = {k: set() for k in ("DS", "GS", "US", "PS", "IS", "RS")}
    dates: dict[str, date] = {}
    for r in getattr(consent, "restrictions", ()):
        key, _, value = str(r).partition(":")
        key = key.upper()
        if key in buckets and value:
            buckets[key].add(value)
        elif key in ("TS", "MOR") and value:
            dates[key] = date.fromisoformat(value)
        else:
            raise MalformedInputError(f"unreadable consent restriction {r!r} (KEY:value expected)")
    return ConsentRecord(
        subject=subject,
        codes=frozenset(codes),
        diseases=frozenset(buckets["DS"]),
        regions=frozenset(buckets["GS"]),
        users=frozenset(buckets["US"]),
        projects=frozenset(buckets["PS"]),
        institutions=frozenset(buckets["IS"]),
        research_types=frozenset(buckets["RS"]),
        expires=dates.get("TS"),
        moratorium=dates.get("MOR"),
    )


def check_consent(consent: ConsentRecord, purpose: Purpose, *, user: str) -> list[str]:
    """Reasons why ``consent`` does not allow ``purpose`` by ``user`` (empty: allowed).

    ``clinical_care`` and ``self`` are not decided here (they depend on the care team and
    on identity, see :mod:`genoma.privacy.access`); they return no reasons.
    """
    if purpose.kind in ("clinical_care", "self"):
        return []
    if consent.withdrawn:
        return [f"consent of {consent.subject} has been withdrawn"]
    reasons: list[str] = []
    perms = consent.permissions
    if not perms and "CC" not in consent.codes:
        return [f"no data-use permission recorded for {consent.subject}"]
    if purpose.kind == "clinical_use":
        if not ({"NRES"} & perms or "CC" in consent.codes):
            reasons.append("secondary clinical use needs DUO CC (clinical care use) or NRES")
    else:  # research
        rt = purpose.research_type
        ok = bool(perms & {"NRES", "GRU"})
        ok |= "HMB" in perms and rt in ("health", "disease", "methods")
        ok |= "DS" in perms and rt == "disease" and purpose.disease in consent.diseases
        ok |= "POA" in perms and rt == "ancestry"
        if not ok:
            reasons.append(
                f"research type {purpose.label()!r} is not covered by the consent "
                f"({', '.join(sorted(perms)) or 'no research permission'})"
            )
    reasons += _modifier_reasons(consent, purpose, user)
    return reasons


def _modifier_reasons(c: ConsentRecord, p: Purpose, user: str) -> list[str]:
    today = p.on or date.today()
    out: list[str] = []
    m = c.modifiers
    if m & {"NPU", "NPUNCU"} and not p.not_for_profit:
        out.append("NPU: use limited to not-for-profit organisations")
    if m & {"NCU", "NPUNCU"} and p.commercial:
        out.append("NCU: non-commercial use only")
    if "IRB" in m and not p.irb_approved:
        out.append("IRB: ethics approval required")
    for code in ("PUB", "COL", "RTN", "MOR"):
        if code in m and code not in p.accepts:
            out.append(f"{code}: requester must accept '{DUO_TERMS[code].label}'")
    if "TS" in m and (c.expires is None or today > c.expires):
        out.append(f"TS: time limit on use expired ({c.expires})")
    if "GS" in m and (p.region is None or p.region not in c.regions):
        out.append(f"GS: use limited to regions {sorted(c.regions)}")
    if "US" in m and user not in c.users:
        out.append("US: user not approved")
    if "PS" in m and (p.project is None or p.project not in c.projects):
        out.append("PS: project not approved")
    if "IS" in m and (p.institution is None or p.institution not in c.institutions):
        out.append("IS: institution not approved")
    if p.kind == "research":
        if "GSO" in m and not p.genetic_study:
            out.append("GSO: genetic studies only")
        if "NMDS" in m and p.research_type == "methods":
            out.append("NMDS: no general methods research")
        if "NPOA" in m and p.research_type == "ancestry":
            out.append("NPOA: population origins or ancestry research prohibited")
        if "RS" in m and p.research_type not in c.research_types:
            out.append(f"RS: research limited to {sorted(c.research_types)}")
    return out
