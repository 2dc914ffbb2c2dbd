"""Download, verify and record official knowledge releases (``genoma kb install``).

A release is fetched with :mod:`urllib` (``https://`` or ``file://``), streamed to a
temporary file inside ``settings().kb_dir/<name>/<version>/``, checked against its
SHA-256 and only then renamed into place, next to a small ``installed.json`` that
records what was installed (name, version, URL, checksum, date, license). A checksum
mismatch raises :class:`~genoma.errors.KnowledgeError` and leaves nothing behind.

Mirrors
-------
``mirror=`` (or the ``GENOMA_KB_MIRROR`` environment variable) redirects downloads:

* ``BASE`` (e.g. ``file:///srv/mirror`` or ``https://mirror.example.org/kb``) replaces
  the scheme and host of the release URL and keeps its path, so
  ``https://ftp.ebi.ac.uk/pub/x.gff3.gz`` is fetched from ``BASE/pub/x.gff3.gz``;
* ``PREFIX=REPLACEMENT`` replaces a given URL prefix (several separated by ``;``).

Multi-file releases
-------------------
A release whose ``extra["files"]`` lists further :class:`~genoma.kb.base.Release`
entries (same version, each with its own URL, file name and optional SHA-256) is
installed as one unit: every file is downloaded and checked before any is moved into
place, and ``installed.json`` records each file's checksum (``files``).

Publishers that give no SHA-256 (GENCODE and MANE publish MD5 lists only) are
installed trust-on-first-use: the checksum of the first download is recorded and
:func:`verify` checks it afterwards. ``sha256=`` pins an expected checksum explicitly.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from genoma.config import settings
from genoma.errors import KnowledgeError
from genoma.kb.base import KnowledgeSource, Release, get_source, reset_cache
from genoma.provenance import sha256_file, utcnow

__all__ = [
    "InstalledRecord",
    "InstalledSource",
    "install",
    "installed_record",
    "installed_records",
    "release_files",
    "resolve_url",
    "verify",
]

RECORD = "installed.json"
MIRROR_ENV = "GENOMA_KB_MIRROR"
ProgressCallback = Callable[[int, int | None], None]
"""``callback(bytes_done, bytes_total_or_None)`` called while downloading."""


@dataclass(frozen=True)
class InstalledRecord:
    """What ``installed.json`` records about one installed release."""

    name: str
    version: str
    url: str
    sha256: str
    date: str
    license: str
    filename: str
    size: int
    files: dict[str, str] = field(default_factory=dict)
    """Further files of a multi-file release: file name → SHA-256."""

    @property
    def directory(self) -> Path:
        """The release's directory in the data dir."""
        return settings().kb_dir / self.name / self.version

    @property
    def path(self) -> Path:
        """The downloaded file."""
        return self.directory / self.filename

    @property
    def paths(self) -> list[Path]:
        """Every installed file: :attr:`path`, then the further files."""
        return [self.path] + [self.directory / f for f in self.files]


def installed_records(name: str) -> list[InstalledRecord]:
    """Every installed release of source ``name``, newest installation first."""
    base = settings().kb_dir / name
    out: list[InstalledRecord] = []
    if not base.is_dir():
        return out
    for rec_path in base.glob(f"*/{RECORD}"):
        try:
            data = json.loads(rec_path.read_text(encoding="utf-8"))
            out.append(InstalledRecord(**data))
        except (OSError, ValueError, TypeError) as exc:
            raise KnowledgeError(f"unreadable install record: {exc}", path=rec_path) from exc
    out.sort(key=lambda r: r.date, reverse=True)
    return out


def installed_record(name: str, version: str | None = None) -> InstalledRecord | None:
    """The installed release of ``name`` (``version``, or the newest installed)."""
    for rec in installed_records(name):
        if version is None or rec.version == version:
            return rec
    return None


class InstalledSource(KnowledgeSource):
    """Base class of sources that exist only once ``genoma kb install`` fetched them.

    Subclasses implement :meth:`releases` (newest first) and :meth:`_load`; the
    version and files come from the newest installed release.
    """

    embedded = False

    @property
    def record(self) -> InstalledRecord | None:
        """The installed release in use (``None`` when nothing is installed)."""
        return installed_record(self.name)

    @property
    def version(self) -> str:
        rec = self.record
        if rec is not None:
            return rec.version
        rels = self.releases()
        return f"{rels[0].version} (not installed)" if rels else "not installed"

    def files(self) -> list[Path]:
        rec = self.record
        if rec is None:
            rels = self.releases()
            if not rels:
                raise KnowledgeError(f"knowledge source {self.name!r} has no releases")
            vdir = settings().kb_dir / self.name / rels[0].version
            return [vdir / r.filename for r in release_files(rels[0])]
        return rec.paths


def resolve_url(url: str, mirror: str | None = None) -> str:
    """Apply a mirror (argument, else ``GENOMA_KB_MIRROR``) to a release URL.

    Parameters
    ----------
    url
        The official URL.
    mirror
        ``BASE`` (replaces scheme and host, keeps the path) or ``PREFIX=REPLACEMENT``
        rules separated by ``;``. ``None`` reads ``GENOMA_KB_MIRROR``.

    Returns
    -------
    str
        The URL to fetch.
    """
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV) or None
    if not mirror:
        return url
    if "=" in mirror:
        for rule in mirror.split(";"):
            prefix, _, repl = rule.partition("=")
            if prefix and url.startswith(prefix):
                return repl + url[len(prefix) :]
        return url
    path = urllib.parse.urlsplit(url).path
    return mirror.rstrip("/") + "/" + path.lstrip("/")


def file_mode() -> int:
    """Permissions for new files: ``0o666`` minus the process umask (as ``open`` gives)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _download(url: str, dest: Path, progress: ProgressCallback | None) -> str:
    """Stream ``url`` into ``dest``; return the SHA-256 of what was written."""
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, open(dest, "wb") as out:
            total_hdr = resp.headers.get("Content-Length") if resp.headers else None
            total = int(total_hdr) if total_hdr and total_hdr.isdigit() else None
            done = 0
            while block := resp.read(1 << 20):
                out.write(block)
                h.update(block)
                done += len(block)
                if progress is not None:
                    progress(done, total)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise KnowledgeError(f"download of {url} failed: {exc}") from exc
    return h.hexdigest()


def release_files(rel: Release) -> list[Release]:
    """The files of a release: itself, then the entries of ``rel.extra["files"]``."""
    more = list(rel.extra.get("files", ()))
    for r in more:
        if not isinstance(r, Release) or r.version != rel.version:
            raise KnowledgeError(f"release {rel.version} lists an invalid further file: {r!r}")
    return [rel, *more]


def _pick_release(src: KnowledgeSource, version: str | None) -> Release:
    rels = src.releases()
    if not rels:
        raise KnowledgeError(
            f"knowledge source {src.name!r} is embedded and has no release to install"
        )
    if version is None:
        return rels[0]
    for rel in rels:
        if rel.version == version:
            return rel
    raise KnowledgeError(
        f"knowledge source {src.name!r} has no release {version!r}; "
        f"known: {', '.join(r.version for r in rels)}"
    )


def install(
    name: str,
    version: str | None = None,
    mirror: str | None = None,
    force: bool = False,
    *,
    sha256: str | None = None,
    progress: ProgressCallback | None = None,
) -> InstalledRecord:
    """Download, verify and record a release of a knowledge source.

    Parameters
    ----------
    name
        Registered source name (see ``genoma kb list``).
    version
        Release version; default the newest release the source knows.
    mirror
        Mirror rule (see :func:`resolve_url`); default ``GENOMA_KB_MIRROR``.
    force
        Re-download even when the release is installed.
    sha256
        Expected checksum overriding the release's own (for pinned mirrors).
    progress
        Called as ``progress(bytes_done, bytes_total)`` during the download.

    Returns
    -------
    InstalledRecord
        What was installed (also written to ``installed.json``).

    Raises
    ------
    KnowledgeError
        Unknown source or version, failed download, checksum mismatch, or a release
        that does not load. Nothing is left behind in these cases.
    """
    src = get_source(name)
    rel = _pick_release(src, version)
    parts = release_files(rel)
    existing = installed_record(name, rel.version)
    if existing is not None and not force and all(p.exists() for p in existing.paths):
        return existing
    vdir = settings().kb_dir / name / rel.version
    created = not vdir.exists()
    vdir.mkdir(parents=True, exist_ok=True)
    tmps: list[Path] = []
    backups: dict[Path, Path | None] = {}  # final file → its backup (None: none existed)
    rec_path = vdir / RECORD
    old_record = rec_path.read_text(encoding="utf-8") if rec_path.exists() else None
    try:
        digests: list[str] = []
        for i, part in enumerate(parts):
            fd, tmp_name = tempfile.mkstemp(prefix=f".{part.filename}.", suffix=".part", dir=vdir)
            os.close(fd)
            tmps.append(Path(tmp_name))
            url = resolve_url(part.url, mirror)
            expected = ((sha256 if i == 0 else None) or part.sha256 or "").lower() or None
            digests.append(_download(url, tmps[-1], progress))
            if expected is not None and digests[-1] != expected:
                raise KnowledgeError(
                    f"checksum mismatch for {url}: expected sha256 {expected}, got {digests[-1]}"
                )
        rec = InstalledRecord(
            name=name,
            version=rel.version,
            url=rel.url,
            sha256=digests[0],
            date=utcnow(),
            license=src.license,
            filename=rel.filename,
            size=tmps[0].stat().st_size,
            files={p.filename: d for p, d in zip(parts[1:], digests[1:], strict=True)},
        )
        for part, tmp in zip(parts, tmps, strict=True):
            final = vdir / part.filename
            os.chmod(tmp, file_mode())
            backups[final] = None
            if final.exists():  # --force: keep the old file until the new one loads
                backups[final] = final.with_name(final.name + ".old")
                os.replace(final, backups[final])
            os.replace(tmp, final)
        tmp_rec = rec_path.with_name(RECORD + ".part")
        tmp_rec.write_text(json.dumps(asdict(rec), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp_rec, rec_path)
        reset_cache()
        get_source(name).verify()
    except BaseException:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
        rec_path.with_name(RECORD + ".part").unlink(missing_ok=True)
        if created:
            shutil.rmtree(vdir, ignore_errors=True)
        else:
            for final, backup in backups.items():
                if backup is not None:
                    os.replace(backup, final)
                elif final.exists() and old_record is None:
                    final.unlink()
            if old_record is not None:
                rec_path.write_text(old_record, encoding="utf-8")
            else:
                rec_path.unlink(missing_ok=True)
        reset_cache()
        raise
    for backup in backups.values():
        if backup is not None:
            backup.unlink(missing_ok=True)
    return rec


def verify(name: str) -> str:
    """Re-check a source: installed files against their recorded SHA-256, then load.

    Returns
    -------
    str
        The checksum of the source's files.

    Raises
    ------
    KnowledgeError
        Missing or altered files, or a source that does not load.
    """
    src = get_source(name)
    if not src.embedded:
        rec = installed_record(name)
        if rec is None:
            raise KnowledgeError(
                f"knowledge source {name!r} is not installed; run `genoma kb install {name}`"
            )
        recorded = {rec.filename: rec.sha256, **rec.files}
        for path in rec.paths:
            if not path.exists():
                raise KnowledgeError(f"installed file of {name!r} is missing", path=path)
            digest = sha256_file(path)
            if digest != recorded[path.name]:
                raise KnowledgeError(
                    f"installed file of {name!r} was altered: sha256 {digest}, "
                    f"recorded {recorded[path.name]}",
                    path=path,
                )
    return src.verify()
