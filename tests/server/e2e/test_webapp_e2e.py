"""End to end in a real browser: `genoma serve` + the web app, driven by Playwright.

The server runs as `genoma serve` (real uvicorn, SQLite, a fresh GENOMA_HOME) on a free
loopback port; Playwright drives Debian's Chromium headless (``/usr/bin/chromium``; no
Playwright browser download). The admin creates a clinician in the admin page; the
clinician creates a patient, uploads the demo patient (written by :mod:`genoma.demo`),
starts the analysis, watches it finish, reads the report and signs off a finding.
Screenshots go to ``test-artifacts/playwright/``.

Skips when Chromium or Playwright is missing (fails under CI=true); install both with
``scripts/browser-deps.sh``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from genoma.demo import DEMO_DIAGNOSIS, DEMO_SAMPLE, write_demo_inputs

REPO = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO / "test-artifacts" / "playwright"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
START_TIMEOUT_S = 120.0
JOB_TIMEOUT_MS = 600_000  # a bound, not a performance threshold: the demo analysis takes ~30 s

pytestmark = pytest.mark.slow


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} — required in CI (run scripts/browser-deps.sh)")
    pytest.skip(f"{reason} (run scripts/browser-deps.sh)")


def _chromium() -> str:
    for c in (os.environ.get("GENOMA_CHROMIUM"), *CHROMIUM_CANDIDATES, shutil.which("chromium")):
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    _missing("Debian's chromium is not installed")
    raise AssertionError("unreachable")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    home: Path
    admin_password: str
    log: Path

    def api(self, method: str, path: str, token: str | None = None, body: dict | None = None):
        """One JSON request to the API (for checks beside the browser)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + "/api/v1" + path, data=data, method=method)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def token(self, username: str, password: str) -> str:
        form = urllib.parse.urlencode({"username": username, "password": password}).encode()
        req = urllib.request.Request(self.url + "/api/v1/auth/token", data=form, method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())["access_token"]


def _genoma_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("genoma")
    if exe.is_file():
        return [str(exe)]
    return [sys.executable, "-c", "from genoma.cli.main import main; main()"]


@pytest.fixture(scope="module", autouse=True)
def _browser_available() -> None:
    """Skip (fail under CI=true) before any server starts when the browser is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("the Python package playwright is not installed")
    _chromium()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`genoma serve` on a free loopback port with a fresh GENOMA_HOME (SQLite)."""
    home = tmp_path_factory.mktemp("serve-home")
    port = _free_port()
    log = home / "serve.log"
    env = {**os.environ, "GENOMA_HOME": str(home)}
    env.pop("GENOMA_TEST_HOME", None)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*_genoma_cmd(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=home,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"genoma serve exited with {proc.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(url + "/api/v1/health", timeout=2) as r:
                    if json.loads(r.read()).get("status") == "ok":
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"genoma serve did not answer in {START_TIMEOUT_S} s:\n{log.read_text()}"
                )
            time.sleep(0.25)
        pw_file = home / "server" / "admin-password"
        assert pw_file.is_file(), "genoma serve did not write the admin password"
        assert (pw_file.stat().st_mode & 0o077) == 0, "admin-password must be private (0600)"
        yield Server(url=url, home=home, admin_password=pw_file.read_text().strip(), log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium through Playwright."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the Python package playwright is not installed")
    exe = _chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, request: pytest.FixtureRequest):
    """A fresh browser context; uncaught JavaScript errors are collected on
    ``page.js_errors``; a screenshot is kept when the test fails."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    pg.js_errors = errors  # type: ignore[attr-defined]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    failed_before = request.session.testsfailed
    try:
        yield pg
    finally:
        if request.session.testsfailed > failed_before:
            pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}-failure.png"), full_page=True)
        ctx.close()


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _login(page, server: Server, username: str, password: str) -> None:
    from playwright.sync_api import expect

    page.goto(server.url + "/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Patients")).to_be_visible()


def test_wrong_password_is_refused(server: Server, page) -> None:
    from playwright.sync_api import expect

    page.goto(server.url + "/")
    expect(page).to_have_title("genoma")
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    _shot(page, "0-login-refused")
    assert page.js_errors == []


def test_clinician_workflow(server: Server, page, tmp_path: Path) -> None:
    """Admin creates a clinician; the clinician runs the demo patient and signs off."""
    from playwright.sync_api import expect

    demo = write_demo_inputs(tmp_path / "demo")
    clinician, clinician_pw = "dr-e2e", "e2e-clinician-pw-1"

    # --- the admin creates a clinician in the admin page
    _login(page, server, "admin", server.admin_password)
    page.get_by_role("link", name="Users and roles").click()
    expect(page.get_by_role("heading", name="Users and roles")).to_be_visible()
    page.get_by_label("User name").fill(clinician)
    page.get_by_label("Initial password").fill(clinician_pw)
    new_user = page.get_by_role("group", name="Roles", exact=True)
    new_user.get_by_label("clinician").check()
    page.get_by_role("button", name="Create user").click()
    users = page.get_by_role("table", name="Users")
    row = users.locator("tr", has=page.get_by_role("rowheader", name=clinician, exact=True))
    expect(row.get_by_label("clinician")).to_be_checked()
    # roles are edited in place: add "analyst", save, and the server has it
    row.get_by_label("analyst").check()
    row.get_by_role("button", name=f"Save {clinician}").click()
    expect(row.get_by_role("status")).to_have_text("saved")
    admin_token = server.token("admin", server.admin_password)
    saved = {u["username"]: u for u in server.api("GET", "/users", admin_token)}
    assert set(saved[clinician]["roles"]) == {"clinician", "analyst"}
    _shot(page, "1-admin-users")
    page.get_by_role("button", name="Sign out").click()

    # --- the clinician creates a patient and uploads the demo inputs
    _login(page, server, clinician, clinician_pw)
    page.get_by_label("External id (e.g. hospital number)").fill("MRN-E2E-001")
    page.get_by_label("Display name").fill("Demo Patient")
    page.get_by_role("button", name="Create patient").click()
    expect(page.get_by_role("heading", name="Files")).to_be_visible()
    files = page.get_by_role("table", name="Files")
    page.get_by_label("VCF (.vcf, .vcf.gz)").set_input_files(str(demo.vcf))
    page.get_by_role("button", name="Upload vcf").click()
    expect(files.get_by_role("cell", name=demo.vcf.name)).to_be_visible()
    page.get_by_label("Phenopacket (.json)").set_input_files(str(demo.phenopacket))
    page.get_by_role("button", name="Upload phenopacket").click()
    expect(files.get_by_role("cell", name=demo.phenopacket.name)).to_be_visible()
    _shot(page, "2-patient-files")

    # --- start the analysis and follow it until it is finished
    expect(page.get_by_label("Phenopacket", exact=True)).not_to_have_value("none")
    page.get_by_role("button", name="Start analysis").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Analysis \d+"))).to_be_visible()
    _shot(page, "3-job-progress")
    status = page.locator("#job-status")
    expect(status).to_contain_text("succeeded", timeout=JOB_TIMEOUT_MS)
    job_id = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_role("heading", name="Findings to review")).to_be_visible()

    # --- the report: the drug table, the ranked diagnoses, the findings to review
    token = server.token(clinician, clinician_pw)
    api_findings = server.api("GET", f"/jobs/{job_id}/findings", token)
    assert api_findings, "the job produced no findings"
    review = page.get_by_role("table", name="Findings to review")
    urgent = [f for f in api_findings if f["color"] in ("red", "yellow")]
    expect(review.locator("tbody tr")).to_have_count(max(len(urgent), 1))
    drugs = page.get_by_role("table", name="Drug recommendations")
    expect(drugs).to_be_visible()
    api_report = server.api("GET", f"/jobs/{job_id}/report?format=json", token)
    actionable = [
        f for f in api_report["findings"]
        if f["kind"] == "drug_recommendation" and f["color"] != "grey"
    ]  # fmt: skip
    assert actionable, "the demo report should hold drug recommendations"
    expect(drugs.locator("tbody tr")).to_have_count(len(actionable))
    for f in actionable:
        drug = f["data"].get("drug") or f["title"]
        row = drugs.locator("tbody tr", has=page.get_by_role("rowheader", name=drug, exact=True))
        expect(row.locator(".badge")).to_have_text(f["color"], ignore_case=True)
    # the diagnoses in the report's rank order; the demo's true diagnosis is among them
    ranked = sorted(
        (f for f in api_report["findings"] if f["kind"] == "diagnosis"), key=lambda f: f["rank"]
    )
    assert ranked, "the demo report should rank diagnoses"
    diagnoses = page.get_by_role("list", name="Ranked diagnoses")
    items = diagnoses.locator("> li")
    expect(items).to_have_count(min(len(ranked), 10))
    expect(items.first).to_contain_text(ranked[0]["title"])
    expect(items.last).to_contain_text(ranked[min(len(ranked), 10) - 1]["title"])
    gene, disease = DEMO_DIAGNOSIS
    shown = diagnoses.inner_text()
    assert gene in shown or disease in shown, f"neither {gene} nor {disease} among: {shown}"
    _shot(page, "4-report")

    # --- sign off the first finding to review, with a comment
    first = urgent[0] if urgent else api_findings[0]
    if not urgent:
        page.get_by_role("button", name="Show all").click()
    page.get_by_role("button", name=f"Sign off: {first['title']}").first.click()
    form = page.get_by_role("form", name=f"Sign off {first['title']}")
    form.get_by_label("Comment").fill("Reviewed in the e2e test.")
    form.get_by_role("button", name="Confirm sign-off").click()
    expect(page.get_by_text(f"Signed off by {clinician}").first).to_be_visible()
    if urgent:
        expect(page.get_by_text(f"1 of {len(urgent)} signed off.")).to_be_visible()
    _shot(page, "5-signed-off")
    signed = {f["id"]: f for f in server.api("GET", f"/jobs/{job_id}/findings", token)}
    assert signed[first["id"]]["signed_off_by"] == clinician
    # the sign-off survives a reload (it is in the database, not only in the page)
    page.reload()
    expect(page.get_by_text(f"Signed off by {clinician}").first).to_be_visible(timeout=60_000)

    # --- the full HTML report, rendered in a sandboxed frame
    page.get_by_role("button", name="Show the full HTML report").click()
    frame = page.frame_locator("iframe[title='Full HTML report']")
    expect(frame.locator("body")).to_contain_text(DEMO_SAMPLE, timeout=60_000)
    expect(frame.locator("body")).to_contain_text(ranked[0]["title"])
    _shot(page, "6-full-report")

    # --- the patient page lists the finished job
    page.get_by_role("link", name="Demo Patient").first.click()
    jobs = page.get_by_role("table", name="Analyses")
    expect(jobs.get_by_role("link", name=f"Job {job_id}")).to_be_visible()
    expect(jobs).to_contain_text("succeeded")
    assert page.js_errors == []


def test_failed_analysis_is_reported(server: Server, page, tmp_path: Path) -> None:
    """A VCF that is no VCF: the job fails and the page says so, with the reason."""
    from playwright.sync_api import expect

    admin = server.token("admin", server.admin_password)
    user, pw = "dr-fail-e2e", "e2e-clinician-pw-2"
    server.api("POST", "/users", admin, {"username": user, "password": pw, "roles": ["clinician"]})
    token = server.token(user, pw)
    patient = server.api(
        "POST",
        "/patients",
        token,
        {"external_id": "MRN-E2E-FAIL", "display_name": "Broken Input", "consent": ["CC"]},
    )
    junk = tmp_path / "junk.vcf"
    junk.write_text("this is not a VCF\n")
    bad = tmp_path / "broken.vcf"  # passes the upload's format check, fails the analysis
    bad.write_text("##fileformat=VCFv4.2\nchr1\tnot-a-position\t.\tA\tG\t.\t.\t.\n")

    _login(page, server, user, pw)
    page.get_by_role("link", name="MRN-E2E-FAIL").click()
    upload = page.get_by_role("button", name="Upload vcf")
    # an upload the server refuses: the page shows why, the file is not listed
    page.get_by_label("VCF (.vcf, .vcf.gz)").set_input_files(str(junk))
    upload.click()
    expect(page.get_by_role("alert")).to_contain_text("422")
    files = page.get_by_role("table", name="Files")
    expect(files.get_by_role("cell", name=junk.name)).to_have_count(0)
    page.get_by_label("VCF (.vcf, .vcf.gz)").set_input_files(str(bad))
    upload.click()
    expect(files.get_by_role("cell", name=bad.name)).to_be_visible()
    page.get_by_role("button", name="Start analysis").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The analysis failed", timeout=JOB_TIMEOUT_MS)
    job_id = int(page.url.rsplit("/", 1)[1])
    job = server.api("GET", f"/jobs/{job_id}", token)
    assert job["state"] == "failed" and job["patient_id"] == patient["id"]
    if job["message"]:
        expect(alert).to_contain_text(job["message"][:40])
    expect(page.get_by_role("heading", name="Findings to review")).to_have_count(0)
    _shot(page, "7-failed-analysis")
    assert page.js_errors == []
