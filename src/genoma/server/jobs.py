"""Persistent job queue: claiming, running, progress, crash recovery, worker pool.

A job's whole state lives in the ``jobs`` table, so nothing is lost when the server dies:

* **claim** — a worker moves a job ``queued → running`` with one compare-and-set
  ``UPDATE ... WHERE id = :id AND state = 'queued'`` (only the worker whose update
  changed a row owns the job; works the same on SQLite and PostgreSQL), recording its
  ``owner`` token and incrementing ``attempts``;
* **run** — each job runs :func:`genoma.workflow.run_analyze` in its own process
  (``python -m genoma.server.jobrunner``), which decrypts the inputs from the vault into
  a private work directory, updates ``progress``/``message`` as the analysis steps run,
  refreshes ``heartbeat_at`` every few seconds, stores every report form encrypted in the
  vault, and removes the work directory. Every update is conditional on the ``owner``,
  so a run that lost its job (recovered by another process) cannot overwrite it;
* **recover** — a ``running`` job whose heartbeat is older than ``stale_after_s`` (the
  process running it crashed) is put back to ``queued`` if it has been tried fewer than
  ``max_attempts`` times, otherwise marked ``failed``. This happens at start-up and
  periodically while the pool runs; a worker process dying under a live server is
  handled the same way at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update

from genoma.errors import GenomaError
from genoma.server import db
from genoma.server.context import DATASET, ServerContext, subject_id

__all__ = [
    "WorkerPool",
    "claim_next",
    "clean_work_dirs",
    "execute_job",
    "input_names",
    "recover_interrupted",
]

_log = logging.getLogger(__name__)
HEARTBEAT_S = 5.0


def new_owner(tag: str = "w") -> str:
    """A unique owner token for one claim."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{tag}:{uuid.uuid4().hex[:8]}"


def claim_next(ctx: ServerContext, owner: str) -> int | None:
    """Claim the oldest queued job for ``owner``; ``None`` when none is queued."""
    with ctx.session() as s:
        ids = s.scalars(
            select(db.Job.id).where(db.Job.state == "queued").order_by(db.Job.id).limit(8)
        ).all()
        for jid in ids:
            now = db.utcnow()
            res = s.execute(
                update(db.Job)
                .where(db.Job.id == jid, db.Job.state == "queued")
                .values(
                    state="running",
                    owner=owner,
                    attempts=db.Job.attempts + 1,
                    started_at=now,
                    heartbeat_at=now,
                    progress=0.0,
                    message="starting",
                )
            )
            s.commit()
            if res.rowcount == 1:
                return jid
    return None


def _requeue_or_fail(
    ctx: ServerContext, s: Any, job: db.Job, why: str, *, count_attempt: bool = True
) -> str:
    """Move one running job to queued (attempts left) or failed; returns the new state."""
    attempts = job.attempts if count_attempt else max(job.attempts - 1, 0)
    if attempts < ctx.settings.max_attempts:
        values: dict[str, Any] = {
            "state": "queued",
            "owner": None,
            "progress": 0.0,
            "attempts": attempts,
            "message": f"{why}; queued again (attempt {attempts + 1} of "
            f"{ctx.settings.max_attempts})",
        }
    else:
        values = {
            "state": "failed",
            "owner": None,
            "finished_at": db.utcnow(),
            "message": f"{why}; failed after {attempts} attempts",
        }
    res = s.execute(
        update(db.Job)
        .where(db.Job.id == job.id, db.Job.state == "running", db.Job.owner == job.owner)
        .values(**values)
    )
    s.commit()
    return values["state"] if res.rowcount == 1 else job.state


def recover_interrupted(ctx: ServerContext, stale_after_s: float | None = None) -> dict[int, str]:
    """Re-queue (or fail) running jobs whose heartbeat is older than ``stale_after_s``.

    Returns
    -------
    dict
        Job id → new state, for the jobs recovered.
    """
    stale = ctx.settings.stale_after_s if stale_after_s is None else stale_after_s
    cutoff = db.utcnow() - timedelta(seconds=stale)
    out: dict[int, str] = {}
    with ctx.session() as s:
        jobs = s.scalars(
            select(db.Job).where(
                db.Job.state == "running",
                or_(db.Job.heartbeat_at.is_(None), db.Job.heartbeat_at <= cutoff),
            )
        ).all()
        for job in jobs:
            out[job.id] = _requeue_or_fail(
                ctx, s, job, "interrupted (the process running it stopped)"
            )
            _log.warning("job %s was interrupted: now %s", job.id, out[job.id])
    return out


def _set(ctx: ServerContext, job_id: int, claim: str, **values: Any) -> bool:
    """Update a running job, only while ``claim`` still owns it; refreshes the heartbeat."""
    with ctx.session() as s:
        res = s.execute(
            update(db.Job)
            .where(db.Job.id == job_id, db.Job.owner == claim, db.Job.state == "running")
            .values(heartbeat_at=db.utcnow(), **values)
        )
        s.commit()
        return res.rowcount == 1


def clean_work_dirs(ctx: ServerContext) -> list[Path]:
    """Remove work directories (decrypted inputs) left by runs that are no longer running."""
    root = ctx.data_dir / "work"
    if not root.is_dir():
        return []
    with ctx.session() as s:
        running = {
            f"job-{i}-" for i in s.scalars(select(db.Job.id).where(db.Job.state == "running"))
        }
    removed = []
    for d in root.iterdir():
        m = re.match(r"^(job-\d+-)", d.name)
        if m and m.group(1) in running:
            continue
        shutil.rmtree(d, ignore_errors=True)
        removed.append(d)
    return removed


class _Progress(logging.Handler):
    """Turns the workflow's ``running <step>`` log records into job progress."""

    def __init__(self, ctx: ServerContext, job_id: int, owner: str, total: int) -> None:
        super().__init__(logging.INFO)
        self.ctx, self.job_id, self.owner, self.total = ctx, job_id, owner, total
        self.done = 0
        self.thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread:
            return
        msg = record.getMessage()
        if msg.startswith("running "):
            self.done += 1
            frac = (self.done - 1) / (self.total + 1)
        elif msg == "report written":
            frac = self.total / (self.total + 1)
        else:
            return
        try:
            _set(self.ctx, self.job_id, self.owner, progress=round(frac, 4), message=msg)
        except Exception:  # progress is best effort; the job's outcome is recorded later
            _log.exception("progress update of job %s failed", self.job_id)


@contextlib.contextmanager
def progress_reporting(
    ctx: ServerContext, job_id: int, owner: str, total: int
) -> Iterator[_Progress]:
    """Report the workflow's steps as the job's progress while the block runs."""
    handler = _Progress(ctx, job_id, owner, total)
    wf_log = logging.getLogger("genoma.workflow")
    level = wf_log.level
    if wf_log.getEffectiveLevel() > logging.INFO:
        wf_log.setLevel(logging.INFO)
    wf_log.addHandler(handler)
    try:
        yield handler
    finally:
        wf_log.removeHandler(handler)
        wf_log.setLevel(level)


def _safe_name(name: str, default: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).name)[:100].lstrip(".")
    return base or default


def input_names(vcf_filename: str, pheno_filename: str | None) -> tuple[str, str | None]:
    """File names of a job's inputs in its work directory: the uploaded names, made safe.

    Path components and unusual characters are dropped (``../x y.vcf`` → ``x_y.vcf``);
    if both uploads have the same name the Phenopacket gets a ``phenopacket-`` prefix.
    """
    vcf_name = _safe_name(vcf_filename, "input.vcf.gz")
    if pheno_filename is None:
        return vcf_name, None
    pheno_name = _safe_name(pheno_filename, "phenopacket.json")
    if pheno_name == vcf_name or pheno_name == "report":
        pheno_name = "phenopacket-" + pheno_name
    if vcf_name == "report":
        vcf_name = "vcf-" + vcf_name
    return vcf_name, pheno_name


_CWD_LOCK = threading.Lock()


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """Run the block in ``path`` (the process's working directory), then go back.

    A job process runs one job, so this is safe there; in the inline mode of the tests
    the lock keeps two inline jobs of one process from interleaving.
    """
    with _CWD_LOCK:
        before = os.getcwd()
        os.chdir(path)
        try:
            yield
        finally:
            os.chdir(before)


def execute_job(ctx: ServerContext, job_id: int, owner: str) -> str:
    """Run one claimed job to its end in this process; returns the final state.

    The inputs are decrypted from the vault into ``data_dir/work/<job>`` (mode 0700,
    removed afterwards), :func:`genoma.workflow.run_analyze` writes the report there, and
    every report form is stored encrypted in the vault. Errors become a ``failed`` state
    with the message (exit-code class and text) for the user.
    """
    from genoma import steps
    from genoma.report.render import FILENAMES
    from genoma.workflow import AnalyzeOptions, run_analyze

    with ctx.session() as s:
        job = s.get(db.Job, job_id)
        if job is None or job.owner != owner or job.state != "running":
            return job.state if job is not None else "missing"
        vcf = s.get(db.StoredFile, job.vcf_file_id)
        pheno = s.get(db.StoredFile, job.phenopacket_file_id) if job.phenopacket_file_id else None
    work = ctx.data_dir / "work" / f"job-{job_id}-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True, mode=0o700)
    stop_beat = threading.Event()

    def beat() -> None:
        while not stop_beat.wait(HEARTBEAT_S):
            try:
                if not _set(ctx, job_id, owner):
                    return
            except Exception:
                _log.exception("heartbeat of job %s failed", job_id)

    beater = threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True)
    beater.start()
    progress = progress_reporting(ctx, job_id, owner, len(steps.patient_steps()))
    progress.__enter__()
    plain = contextlib.ExitStack()  # the decrypted inputs (in memory) of this job
    try:
        assert vcf is not None
        # The inputs are decrypted into the work directory under the names they were
        # uploaded with, and the analysis runs in that directory on those bare names: the
        # report's "Input files" table and parameters show the uploaded file names, not
        # the server's paths.
        # The plaintext is verified and held in memory (Vault.plaintext_file: memfd on
        # Linux, never on disk); the work directory only has symlinks with those names.
        vcf_name, pheno_name = input_names(vcf.filename, pheno.filename if pheno else None)
        os.symlink(plain.enter_context(ctx.vault.plaintext_file(vcf.object_id)), work / vcf_name)
        if pheno is not None and pheno_name is not None:
            os.symlink(plain.enter_context(ctx.vault.plaintext_file(pheno.object_id)),
                       work / pheno_name)
        _set(ctx, job_id, owner, message="analysing", progress=0.0)
        out = work / "report"
        root = logging.getLogger()
        saved = (list(root.handlers), root.level)
        try:  # run_analyze sets up the root logger for a CLI run (run.log): undo it after
            with working_directory(work):
                run_analyze(
                    AnalyzeOptions(
                        vcf=Path(vcf_name),
                        phenopacket=Path(pheno_name) if pheno_name else None,
                        formats=ctx.settings.formats,
                        command=f"genoma serve (job {job_id})",
                    ),
                    out,
                )
        finally:
            for h in list(root.handlers):
                if h not in saved[0]:
                    root.removeHandler(h)
                    h.close()
            for h in saved[0]:
                if h not in root.handlers:
                    root.addHandler(h)
            root.setLevel(saved[1])
        reports: dict[str, str] = {}
        sid = subject_id(job.patient_id)
        names = {**FILENAMES, "manifest": "manifest.json"}
        for fmt, name in names.items():
            path = out / name
            if not path.is_file():
                continue
            oid = f"job-{job_id}-{fmt}"
            with open(path, "rb") as fh:
                ctx.vault.put(
                    oid,
                    fh,
                    dataset=DATASET,
                    subject=sid,
                    overwrite=True,
                    extra={"job": str(job_id), "format": fmt},
                )
            reports[fmt] = oid
        ok = _set(
            ctx,
            job_id,
            owner,
            state="succeeded",
            progress=1.0,
            message="report ready",
            reports=reports,
            finished_at=db.utcnow(),
            owner=None,
        )
        return "succeeded" if ok else "lost"
    except GenomaError as exc:
        msg = str(exc).replace(str(work) + os.sep, "").replace(str(work), "")
        _set(
            ctx,
            job_id,
            owner,
            state="failed",
            message=f"{type(exc).__name__}: {msg}",
            finished_at=db.utcnow(),
            owner=None,
        )
        return "failed"
    except Exception as exc:
        _log.exception("job %s failed with an internal error", job_id)
        _set(
            ctx,
            job_id,
            owner,
            state="failed",
            message=f"internal error ({type(exc).__name__}); see the server log",
            finished_at=db.utcnow(),
            owner=None,
        )
        return "failed"
    finally:
        plain.close()
        progress.__exit__(None, None, None)
        stop_beat.set()
        beater.join(timeout=1)
        shutil.rmtree(work, ignore_errors=True)


class WorkerPool:
    """``n`` worker threads, each running one job at a time in a child process.

    Parameters
    ----------
    ctx
        Server context.
    n
        Number of jobs run at the same time.
    """

    def __init__(self, ctx: ServerContext, n: int) -> None:
        self.ctx = ctx
        self.n = max(1, n)
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._children: dict[int, tuple[subprocess.Popen[bytes], str]] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        """Recover interrupted jobs, remove their work directories, start the workers."""
        recover_interrupted(self.ctx)
        clean_work_dirs(self.ctx)
        for i in range(self.n):
            t = threading.Thread(
                target=self._loop, args=(i,), name=f"genoma-worker-{i}", daemon=True
            )
            t.start()
            self._threads.append(t)

    def notify(self) -> None:
        """Wake an idle worker (a job was queued)."""
        with self._wake:
            self._wake.notify()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the workers; running children are terminated and their jobs re-queued."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        with self._lock:
            children = list(self._children.items())
        for _jid, (proc, _owner) in children:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for t in self._threads:
            t.join(timeout)
        with self.ctx.session() as s:
            for jid, (_proc, owner) in children:
                job = s.get(db.Job, jid)
                if job is not None and job.state == "running" and job.owner == owner:
                    _requeue_or_fail(
                        self.ctx, s, job, "interrupted by a server shutdown", count_attempt=False
                    )

    def _loop(self, index: int) -> None:
        idle = 0.0
        while not self._stop.is_set():
            try:
                owner = new_owner(f"w{index}")
                jid = claim_next(self.ctx, owner)
                if jid is None:
                    with self._wake:
                        self._wake.wait(self.ctx.settings.poll_interval_s)
                    idle += self.ctx.settings.poll_interval_s
                    if index == 0 and idle >= max(self.ctx.settings.stale_after_s / 2, 1.0):
                        idle = 0.0
                        if recover_interrupted(self.ctx):
                            clean_work_dirs(self.ctx)
                    continue
                self._run_child(jid, owner)
            except Exception:  # keep the worker alive (e.g. database briefly unavailable)
                _log.exception("worker %s", index)
                self._stop.wait(1.0)

    def _run_child(self, jid: int, owner: str) -> None:
        env = dict(os.environ)
        env.update(child_env(self.ctx))
        cmd = [sys.executable, "-m", "genoma.server.jobrunner", str(jid), owner]
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL)
        with self._lock:
            self._children[jid] = (proc, owner)
        try:
            rc = proc.wait()
        finally:
            with self._lock:
                self._children.pop(jid, None)
        if rc != 0 and not self._stop.is_set():
            with self.ctx.session() as s:
                job = s.get(db.Job, jid)
                if job is not None and job.state == "running" and job.owner == owner:
                    _requeue_or_fail(self.ctx, s, job, f"the job process died (exit {rc})")


def child_env(ctx: ServerContext) -> dict[str, str]:
    """Environment that lets ``genoma.server.jobrunner`` open the same context."""
    s = ctx.settings
    return {
        "GENOMA_SERVER_DATABASE_URL": ctx.engine.url.render_as_string(hide_password=False),
        "GENOMA_SERVER_DATA_DIR": str(ctx.data_dir),
        "GENOMA_SERVER_FORMATS": ",".join(s.formats),
        "GENOMA_SERVER_MAX_ATTEMPTS": str(s.max_attempts),
        "GENOMA_SERVER_JOB_NICE": str(s.job_nice),
        "GENOMA_VAULT_PASSPHRASE": ctx.vault_passphrase,
    }
