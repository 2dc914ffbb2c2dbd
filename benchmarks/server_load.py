"""Bounded load test of `genoma serve` on loopback with locust: report fetches + job submissions.

What it does
------------
1. Starts ``genoma serve`` (SQLite, a fresh temporary GENOMA_HOME, ``--workers 2``) on a
   free port of 127.0.0.1 — or uses ``--url`` (loopback addresses only).
2. Seeds through the API: a clinician, a patient, the demo patient's VCF and Phenopacket
   (written by :mod:`genoma.demo`), and one analysis job, waited for until it succeeds, so
   there is a finished report to fetch.
3. Runs locust headless in-process: ``--users`` clinicians (default 50) spawned at
   ``--spawn-rate``/s, each looping, with a pause of 0.5–1.5 s, over
   ``GET /jobs/{id}/report?format=json`` (weight 6), ``…?format=html`` (3),
   ``GET /jobs/{id}/findings`` (3), ``GET /jobs/{id}`` (2) and ``POST /jobs``
   (``--submit-weight``, default 1; a real job submission: the queued analyses run on the
   server's job workers during the test; 0: reads only). The users share one token
   (signed in once); sign-in latency is measured apart, sequentially, before the load.
   The run stops by itself after ``--duration`` seconds.
4. Prints p50 / p95 / p99 latency, requests/s and error rate per endpoint (Markdown) and
   with ``--write`` appends them, with the date and the command, to ``docs/bench/server.md``.

Locust is not a genoma dependency: ``.venv/bin/pip install locust`` first. Latency
percentiles are locust's (response times are bucketed: exact below 100 ms, rounded to
10 ms up to 1 s, to 100 ms above).

Run: ``.venv/bin/python benchmarks/server_load.py --users 50 --duration 60 --write``
"""

from __future__ import annotations

# locust patches the standard library with gevent: import it before anything else.
try:
    import gevent
    from locust import HttpUser, between, task
    from locust.env import Environment
except ImportError:  # pragma: no cover - a benchmark prerequisite
    raise SystemExit("locust is needed: .venv/bin/pip install locust") from None

import argparse
import datetime as dt
import ipaddress
import json
import os
import platform
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "bench" / "server.md"
CLINICIAN = ("load-clinician", "load-test-password-1")


# ---------------------------------------------------------------- server + seeding


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _loopback_only(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        ok = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise SystemExit(f"--url must point at a loopback address (127.0.0.0/8, ::1), not {host!r}")


def _request(
    url: str,
    method: str = "GET",
    token: str | None = None,
    body: bytes | None = None,
    ctype: str | None = None,
) -> bytes:
    req = urllib.request.Request(url, data=body, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if ctype:
        req.add_header("Content-Type", ctype)
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read()


def _json(url: str, method: str = "GET", token: str | None = None, doc: dict | None = None) -> dict:
    body = json.dumps(doc).encode() if doc is not None else None
    return json.loads(_request(url, method, token, body, "application/json" if body else None))


def _token(api: str, username: str, password: str) -> str:
    form = urllib.parse.urlencode({"username": username, "password": password}).encode()
    return json.loads(
        _request(f"{api}/auth/token", "POST", None, form, "application/x-www-form-urlencoded")
    )["access_token"]


def _upload(api: str, token: str, patient: int, kind: str, path: Path) -> dict:
    boundary = "genoma-load-" + os.urandom(8).hex()
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\n{kind}\r\n'.encode(),
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + path.read_bytes()
        + b"\r\n",
        f"--{boundary}--\r\n".encode(),
    ]
    return json.loads(
        _request(
            f"{api}/patients/{patient}/files",
            "POST",
            token,
            b"".join(parts),
            f"multipart/form-data; boundary={boundary}",
        )
    )


def start_server(home: Path, workers: int) -> tuple[subprocess.Popen, str]:
    """`genoma serve` on a free loopback port; returns (process, base URL) once healthy."""
    port = _free_port()
    exe = Path(sys.executable).with_name("genoma")
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "genoma.cli.main"]
    env = {**os.environ, "GENOMA_HOME": str(home)}
    log = (home / "serve.log").open("wb")
    proc = subprocess.Popen(
        [*cmd, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=home,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"genoma serve exited ({proc.returncode}); see {home / 'serve.log'}")
        try:
            if _json(url + "/api/v1/health").get("status") == "ok":
                return proc, url
        except OSError:
            time.sleep(0.25)
    proc.terminate()
    raise SystemExit("genoma serve did not become healthy in 120 s")


def seed(url: str, admin_password: str, workdir: Path) -> dict:
    """Clinician, patient, demo uploads and one finished job; returns ids and the password."""
    from genoma.demo import write_demo_inputs

    api = url + "/api/v1"
    admin = _token(api, "admin", admin_password)
    _json(
        f"{api}/users",
        "POST",
        admin,
        {"username": CLINICIAN[0], "password": CLINICIAN[1], "roles": ["clinician"]},
    )
    tok = _token(api, *CLINICIAN)
    patient = _json(
        f"{api}/patients",
        "POST",
        tok,
        {
            "external_id": f"LOAD-{os.getpid()}",
            "display_name": "Load Test",
            "consent": ["DUO:0000043"],
        },
    )["id"]
    demo = write_demo_inputs(workdir / "demo")
    vcf = _upload(api, tok, patient, "vcf", demo.vcf)["id"]
    pheno = _upload(api, tok, patient, "phenopacket", demo.phenopacket)["id"]
    job = {
        "patient_id": patient,
        "vcf_file_id": vcf,
        "phenopacket_file_id": pheno,
        "purpose": "clinical_care",
    }
    jid = _json(f"{api}/jobs", "POST", tok, job)["id"]
    t0 = time.monotonic()
    while True:
        state = _json(f"{api}/jobs/{jid}", token=tok)
        if state["state"] == "succeeded":
            break
        if state["state"] == "failed" or time.monotonic() - t0 > 900:
            raise SystemExit(f"seed job did not succeed: {state}")
        time.sleep(1)
    seed_s = time.monotonic() - t0
    # login latency, measured apart (sequential; argon2id verification is slow by design)
    login_ms = []
    for _ in range(5):
        t = time.perf_counter()
        _token(api, *CLINICIAN)
        login_ms.append(1000 * (time.perf_counter() - t))
    return {
        "job": jid,
        "job_body": job,
        "seed_job_s": seed_s,
        "token": tok,
        "login_ms": sorted(login_ms),
    }


# ---------------------------------------------------------------- locust


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpus(spec: str) -> set[int]:
    """CPU numbers of ``"0,1"`` or ``"0-1"``."""
    out: set[int] = set()
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def make_user(seeded: dict, submit_weight: int) -> type[HttpUser]:
    job_id, job_body, token = seeded["job"], seeded["job_body"], seeded["token"]

    class Clinician(HttpUser):
        # signed in already (one token shared by all users: a clinician signs in once a
        # shift; login latency is measured apart, see seed())
        wait_time = between(0.5, 1.5)

        def on_start(self) -> None:
            self.client.headers["Authorization"] = f"Bearer {token}"

        @task(6)
        def report_json(self) -> None:
            self.client.get(
                f"/api/v1/jobs/{job_id}/report?format=json",
                name="GET /jobs/{id}/report?format=json",
            )

        @task(3)
        def report_html(self) -> None:
            self.client.get(
                f"/api/v1/jobs/{job_id}/report?format=html",
                name="GET /jobs/{id}/report?format=html",
            )

        @task(3)
        def findings(self) -> None:
            self.client.get(f"/api/v1/jobs/{job_id}/findings", name="GET /jobs/{id}/findings")

        @task(2)
        def job_state(self) -> None:
            self.client.get(f"/api/v1/jobs/{job_id}", name="GET /jobs/{id}")

        def submit(self) -> None:
            self.client.post("/api/v1/jobs", json=job_body, name="POST /jobs")

        if submit_weight > 0:  # locust collects @task methods when the class is made
            submit = task(submit_weight)(submit)

    return Clinician


def run_load(
    url: str, seeded: dict, users: int, spawn_rate: float, duration: float, submit_weight: int
) -> list[dict]:
    env = Environment(user_classes=[make_user(seeded, submit_weight)], host=url)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=spawn_rate)
    gevent.spawn_later(duration, runner.quit)
    runner.greenlet.join()
    rows = []
    entries = sorted(env.stats.entries.values(), key=lambda e: e.name)
    for e in [*entries, env.stats.total]:
        if not e.num_requests:
            continue
        rows.append(
            {
                "name": e.name if e is not env.stats.total else "all requests",
                "requests": e.num_requests,
                "failures": e.num_failures,
                "error_rate": e.num_failures / e.num_requests,
                "p50": e.get_response_time_percentile(0.50),
                "p95": e.get_response_time_percentile(0.95),
                "p99": e.get_response_time_percentile(0.99),
                "max": e.max_response_time,
                "rps": e.total_rps,
            }
        )
    errors = [
        f"{err.method} {err.name}: {err.error} ×{err.occurrences}"
        for err in env.stats.errors.values()
    ]
    return [*rows, {"errors": errors}]


def markdown(rows: list[dict]) -> str:
    out = [
        "| endpoint | requests | errors | error rate | p50 ms | p95 ms | p99 ms | max ms | req/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "errors" in r:
            continue
        out.append(
            f"| {r['name']} | {r['requests']} | {r['failures']} | {100 * r['error_rate']:.2f} % "
            f"| {r['p50']:.0f} | {r['p95']:.0f} | {r['p99']:.0f} | {r['max']:.0f} "
            f"| {r['rps']:.1f} |"
        )
    errs = next((r["errors"] for r in rows if "errors" in r), [])
    if errs:
        out.append("")
        out.append("Errors: " + "; ".join(errs))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--spawn-rate", type=float, default=10.0)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of load (bounded)")
    ap.add_argument("--workers", type=int, default=2, help="job workers of the started server")
    ap.add_argument(
        "--submit-weight",
        type=int,
        default=1,
        help="weight of POST /jobs among the tasks (reads weigh 14); 0: reads only",
    )
    ap.add_argument(
        "--url", help="an already running server (loopback only); needs --admin-password"
    )
    ap.add_argument("--admin-password")
    ap.add_argument("--write", action="store_true", help=f"append the results to {DOC}")
    ap.add_argument(
        "--server-cpus",
        help="pin the started server (and its job processes) to these CPUs, e.g. 0,1",
    )
    ap.add_argument("--locust-cpus", help="pin locust (this process) to these CPUs, e.g. 1")
    args = ap.parse_args(argv)
    if args.duration > 1800:
        raise SystemExit("--duration is bounded to 1800 s")

    with tempfile.TemporaryDirectory(prefix="genoma-load-") as tmp:
        work = Path(tmp)
        proc = None
        if args.url:
            _loopback_only(args.url)
            if not args.admin_password:
                raise SystemExit("--url needs --admin-password")
            url, admin_pw = args.url.rstrip("/"), args.admin_password
        else:
            (work / "home").mkdir()
            proc, url = start_server(work / "home", args.workers)
            if args.server_cpus:
                os.sched_setaffinity(proc.pid, _cpus(args.server_cpus))
            admin_pw = (work / "home" / "server" / "admin-password").read_text().strip()
        if args.locust_cpus:
            os.sched_setaffinity(0, _cpus(args.locust_cpus))
        try:
            seeded = seed(url, admin_pw, work)
            print(
                "sign-in (sequential) ms: " + ", ".join(f"{m:.0f}" for m in seeded["login_ms"]),
                file=sys.stderr,
            )
            print(
                f"seeded job {seeded['job']} in {seeded['seed_job_s']:.1f} s; "
                f"load: {args.users} users for {args.duration:.0f} s on {url}",
                file=sys.stderr,
            )
            load_before = os.getloadavg()[0]
            cpu_before = _cpu_seconds(proc.pid) if proc is not None else None
            rows = run_load(
                url, seeded, args.users, args.spawn_rate, args.duration, args.submit_weight
            )
            load_after = os.getloadavg()[0]
            cpu_after = _cpu_seconds(proc.pid) if proc is not None else None
        finally:
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()

    table = markdown(rows)
    print(table)
    print(
        f"load average (1 min) before / after the load: {load_before:.2f} / {load_after:.2f}",
        file=sys.stderr,
    )
    total = next(r for r in rows if r.get("name") == "all requests")
    cpu_note = ""
    if cpu_before is not None and cpu_after is not None:
        used = cpu_after - cpu_before
        cpu_note = (
            f"Server process CPU during the load (job processes excluded): {used:.1f} s, "
            f"{1000 * used / max(total['requests'], 1):.1f} ms per request.  \n"
        )
        print(cpu_note.strip(" \n"), file=sys.stderr)
    if args.write:
        cmd = "python benchmarks/server_load.py " + shlex.join(
            argv if argv is not None else sys.argv[1:]
        )
        when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        machine = (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        )
        mix = (
            f"reads + job submissions (POST /jobs weight {args.submit_weight} of "
            f"{14 + args.submit_weight})"
            if args.submit_weight
            else "reads only"
        )
        logins = ", ".join(f"{m:.0f}" for m in seeded["login_ms"])
        section = (
            f"\n## {when}: {args.users} users, {args.duration:.0f} s, {mix}\n\n"
            f"Command: `{cmd}`  \nMachine: {machine}; server: `genoma serve` "
            f"(SQLite, {args.workers} job workers, one uvicorn process), loopback; "
            f"pinning: server {args.server_cpus or 'none'}, locust {args.locust_cpus or 'none'}; "
            f"load average (1 min) before / after: {load_before:.2f} / {load_after:.2f} "
            "(the machine is shared).  \n"
            f"Seed job (demo patient, fresh GENOMA_HOME): {seeded['seed_job_s']:.1f} s. "
            f"Sign-in (`POST /auth/token`, sequential, idle server): {logins} ms.  \n"
            f"{cpu_note}\n"
            f"{table}\n"
        )
        DOC.parent.mkdir(parents=True, exist_ok=True)
        if not DOC.exists():
            DOC.write_text("# genoma server: load test\n")
        with DOC.open("a") as f:
            f.write(section)
        print(f"appended to {DOC}", file=sys.stderr)
    return 0 if total["failures"] == 0 else 8


if __name__ == "__main__":
    sys.exit(main())
