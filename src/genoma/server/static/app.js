// genoma web app for clinicians: a single-page app over the REST API at /api/v1.
//
// Preact + htm (vendored, see scripts/vendor-web.sh): no build step, no CDN, no inline
// script, so a strict Content-Security-Policy (script-src 'self') works. Screens are
// chosen by the URL hash: #/patients, #/patients/<id>, #/jobs/<id>, #/admin.

import { h, render } from "./vendor/preact.js";
import { useCallback, useEffect, useRef, useState } from "./vendor/hooks.js";
import htm from "./vendor/htm.js";

const html = htm.bind(h);
const API = "/api/v1";
const TOKEN_KEY = "genoma.token";
const POLL_MS = 1000;

// DUO terms offered when a patient's consent is recorded (ids as in genoma.privacy.consent).
const CONSENT_TERMS = [
  ["DUO:0000043", "Clinical care use (CC)"],
  ["DUO:0000042", "General research use (GRU)"],
  ["DUO:0000006", "Health, medical or biomedical research (HMB)"],
  ["DUO:0000004", "No restriction (NRES)"],
  ["DUO:0000011", "Population origins or ancestry research (POA)"],
];
// the API answers consent as DUO shorthands (CC, GRU, …) or ids; show both with the meaning
function consentLabel(code) {
  const t = CONSENT_TERMS.find(([id, label]) => id === code || label.endsWith(`(${code})`));
  return t ? `${t[1]} ${t[0]}` : code;
}
const ROLES = ["clinician", "analyst", "researcher", "patient", "admin"];
const COLOR_ORDER = { red: 0, yellow: 1, green: 2, grey: 3 };
const COLOR_LABEL = {
  red: "Act: avoid or change",
  yellow: "Adjust or consider",
  green: "Standard use",
  grey: "No recommendation",
};

// ---------------------------------------------------------------- API access

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function detailText(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => (d && d.msg ? `${(d.loc || []).join(".")}: ${d.msg}` : String(d))).join("; ");
  }
  return JSON.stringify(detail);
}

async function api(path, { method = "GET", json, form, raw = false } = {}) {
  const headers = {};
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form; // FormData or URLSearchParams: the browser sets the content type
  }
  const res = await fetch(API + path, { method, headers, body });
  if (res.status === 401 && t) {
    sessionStorage.removeItem(TOKEN_KEY);
    window.dispatchEvent(new Event("genoma-logout"));
  }
  if (!res.ok) {
    let msg = `${res.status} ${res.statusText}`;
    try {
      const doc = await res.json();
      if (doc && doc.detail !== undefined) msg = `${msg}: ${detailText(doc.detail)}`;
    } catch (_) {
      /* not JSON */
    }
    throw new ApiError(res.status, msg);
  }
  if (raw) return res;
  if (res.status === 204) return null;
  return res.json();
}

function fmtDate(s) {
  if (!s) return "";
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? String(s) : d.toLocaleString();
}

function fmtBytes(n) {
  if (n == null) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

// ---------------------------------------------------------------- small pieces

function useHashRoute() {
  const [hash, setHash] = useState(window.location.hash || "#/patients");
  useEffect(() => {
    const on = () => setHash(window.location.hash || "#/patients");
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return hash.replace(/^#\/?/, "").split("/").filter(Boolean);
}

function ErrorBox({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">${String(error.message || error)}</p>`;
}

function Badge({ color }) {
  const c = color || "grey";
  return html`<span class=${`badge badge-${c}`} title=${COLOR_LABEL[c] || c}>
    <span class="dot" aria-hidden="true"></span>${c}</span>`;
}

function Loading({ what }) {
  return html`<p aria-live="polite" class="muted">Loading ${what}…</p>`;
}

// ---------------------------------------------------------------- login

function Login({ onLogin }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const form = new URLSearchParams({ username, password });
      const doc = await api("/auth/token", { method: "POST", form });
      sessionStorage.setItem(TOKEN_KEY, doc.access_token);
      onLogin();
    } catch (err) {
      setError(err.status === 401 || err.status === 400 ? new Error("Wrong user name or password.") : err);
    } finally {
      setBusy(false);
    }
  }

  return html`<main id="main" class="login">
    <h1>genoma</h1>
    <p class="muted">Precision-medicine reports for clinicians</p>
    <form onSubmit=${submit} aria-label="Sign in">
      <label for="login-user">User name</label>
      <input id="login-user" name="username" autocomplete="username" required
        value=${username} onInput=${(e) => setUsername(e.target.value)} />
      <label for="login-password">Password</label>
      <input id="login-password" name="password" type="password" autocomplete="current-password" required
        value=${password} onInput=${(e) => setPassword(e.target.value)} />
      <button type="submit" disabled=${busy}>${busy ? "Signing in…" : "Sign in"}</button>
      <${ErrorBox} error=${error} />
    </form>
  </main>`;
}

// ---------------------------------------------------------------- patients

function NewPatient({ onCreated }) {
  const [externalId, setExternalId] = useState("");
  const [name, setName] = useState("");
  const [consent, setConsent] = useState(["DUO:0000043"]);
  const [careTeam, setCareTeam] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  function toggle(id, on) {
    setConsent((c) => (on ? [...c.filter((x) => x !== id), id] : c.filter((x) => x !== id)));
  }

  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const p = await api("/patients", {
        method: "POST",
        json: {
          external_id: externalId,
          display_name: name,
          consent,
          care_team: careTeam.split(/[\s,]+/).filter(Boolean),
        },
      });
      setExternalId("");
      setCareTeam("");
      setName("");
      onCreated(p);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return html`<section aria-labelledby="new-patient-h" class="card">
    <h2 id="new-patient-h">New patient</h2>
    <form onSubmit=${submit}>
      <div class="row">
        <div>
          <label for="np-external">External id (e.g. hospital number)</label>
          <input id="np-external" required value=${externalId} onInput=${(e) => setExternalId(e.target.value)} />
        </div>
        <div>
          <label for="np-name">Display name</label>
          <input id="np-name" required value=${name} onInput=${(e) => setName(e.target.value)} />
        </div>
      </div>
      <label for="np-team">Care team (other user names, comma separated; you are always on it)</label>
      <input id="np-team" value=${careTeam} onInput=${(e) => setCareTeam(e.target.value)} />
      <fieldset>
        <legend>Consent given (GA4GH DUO)</legend>
        ${CONSENT_TERMS.map(
          ([id, label]) => html`<label class="check" key=${id}>
            <input type="checkbox" checked=${consent.includes(id)}
              onChange=${(e) => toggle(id, e.target.checked)} /> ${label} <code>${id}</code></label>`,
        )}
      </fieldset>
      <button type="submit" disabled=${busy}>${busy ? "Creating…" : "Create patient"}</button>
      <${ErrorBox} error=${error} />
    </form>
  </section>`;
}

function PatientList({ me }) {
  const [patients, setPatients] = useState(null);
  const [error, setError] = useState(null);
  const [filter, setFilter] = useState("");

  const load = useCallback(() => {
    api("/patients").then(setPatients, setError);
  }, []);
  useEffect(load, [load]);

  const canCreate = me.roles.includes("clinician") || me.roles.includes("admin");
  const shown = (patients || []).filter((p) =>
    `${p.external_id || ""} ${p.display_name || ""}`.toLowerCase().includes(filter.toLowerCase()),
  );

  return html`<main id="main">
    <h1>Patients</h1>
    <${ErrorBox} error=${error} />
    <label for="patient-filter">Filter patients</label>
    <input id="patient-filter" type="search" value=${filter} onInput=${(e) => setFilter(e.target.value)} />
    ${patients === null && !error
      ? html`<${Loading} what="patients" />`
      : html`<table aria-label="Patients">
          <thead><tr><th scope="col">External id</th><th scope="col">Name</th><th scope="col">Consent</th><th scope="col">Created</th></tr></thead>
          <tbody>
            ${shown.map(
              (p) => html`<tr key=${p.id}>
                <td><a href=${`#/patients/${p.id}`}>${p.external_id || p.id}</a></td>
                <td>${p.display_name}</td>
                <td>${(p.consent || []).join(", ")}</td>
                <td>${fmtDate(p.created_at)}</td>
              </tr>`,
            )}
            ${shown.length === 0 ? html`<tr><td colspan="4" class="muted">No patients.</td></tr>` : null}
          </tbody>
        </table>`}
    ${canCreate
      ? html`<${NewPatient} onCreated=${(p) => { window.location.hash = `#/patients/${p.id}`; }} />`
      : null}
  </main>`;
}

// fetch() cannot report upload progress; XMLHttpRequest can (VCFs can be large).
function uploadWithProgress(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", API + path);
    const t = token();
    if (t) xhr.setRequestHeader("Authorization", `Bearer ${t}`);
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onerror = () => reject(new ApiError(0, "The upload was interrupted (network error, or the file is larger than the server accepts)."));
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(xhr.response);
        return;
      }
      if (xhr.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        window.dispatchEvent(new Event("genoma-logout"));
      }
      const doc = xhr.response;
      const detail = doc && doc.detail !== undefined ? `: ${detailText(doc.detail)}` : "";
      reject(new ApiError(xhr.status, `${xhr.status} ${xhr.statusText}${detail}`));
    };
    xhr.send(form);
  });
}

function Upload({ patientId, kind, label, accept, onDone }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState(0);
  const input = useRef(null);
  const id = `upload-${kind}`;

  async function submit(e) {
    e.preventDefault();
    const file = input.current && input.current.files[0];
    if (!file) return;
    setBusy(true);
    setSent(0);
    setError(null);
    try {
      const form = new FormData();
      form.append("kind", kind);
      form.append("file", file, file.name);
      await uploadWithProgress(`/patients/${patientId}/files`, form, setSent);
      input.current.value = "";
      onDone();
    } catch (err) {
      setError(err.status === 413 ? new Error("The file is larger than the server accepts.") : err);
    } finally {
      setBusy(false);
    }
  }

  return html`<form onSubmit=${submit} class="upload">
    <label for=${id}>${label}</label>
    <input id=${id} type="file" accept=${accept} required ref=${input} />
    <button type="submit" disabled=${busy}>${busy ? "Uploading…" : `Upload ${kind}`}</button>
    ${busy
      ? html` <progress max="100" value=${Math.round(100 * sent)} aria-label=${`Upload of the ${kind}`}></progress>
          ${Math.round(100 * sent)}%`
      : null}
    <${ErrorBox} error=${error} />
  </form>`;
}

function StartJob({ patient, onStarted }) {
  const vcfs = (patient.files || []).filter((f) => f.kind === "vcf");
  const phenos = (patient.files || []).filter((f) => f.kind === "phenopacket");
  const [vcf, setVcf] = useState("");
  const [pheno, setPheno] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  // default to the newest file of each kind
  const vcfId = vcf || (vcfs.length ? String(vcfs[vcfs.length - 1].id) : "");
  const phenoId = pheno === "none" ? "" : pheno || (phenos.length ? String(phenos[phenos.length - 1].id) : "");

  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      // ids go back with the type the API gave them
      const byId = (list, x) => (list.find((f) => String(f.id) === x) || {}).id;
      const body = { patient_id: patient.id, vcf_file_id: byId(vcfs, vcfId), purpose: "clinical_care" };
      if (phenoId) body.phenopacket_file_id = byId(phenos, phenoId);
      const job = await api("/jobs", { method: "POST", json: body });
      onStarted(job);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  if (!vcfs.length) return html`<p class="muted">Upload a VCF to start an analysis.</p>`;
  return html`<form onSubmit=${submit} aria-label="Start analysis">
    <div class="row">
      <div>
        <label for="job-vcf">VCF</label>
        <select id="job-vcf" value=${vcfId} onChange=${(e) => setVcf(e.target.value)}>
          ${vcfs.map((f) => html`<option key=${f.id} value=${String(f.id)}>${f.filename}</option>`)}
        </select>
      </div>
      <div>
        <label for="job-pheno">Phenopacket</label>
        <select id="job-pheno" value=${phenoId || "none"} onChange=${(e) => setPheno(e.target.value)}>
          <option value="none">none</option>
          ${phenos.map((f) => html`<option key=${f.id} value=${String(f.id)}>${f.filename}</option>`)}
        </select>
      </div>
    </div>
    <p class="muted">Purpose: clinical care of this patient.</p>
    <button type="submit" disabled=${busy}>${busy ? "Starting…" : "Start analysis"}</button>
    <${ErrorBox} error=${error} />
  </form>`;
}

function JobState({ job }) {
  const pct = Math.round(100 * (job.progress || 0));
  return html`<span class=${`state state-${job.state}`}>${job.state}</span>
    ${job.state === "running" || job.state === "queued"
      ? html` <progress max="100" value=${pct} aria-label=${`Job ${job.id} progress`}>${pct}%</progress> ${pct}%`
      : null}`;
}

function PatientPage({ id, me }) {
  const [patient, setPatient] = useState(null);
  const [error, setError] = useState(null);
  const load = useCallback(() => {
    api(`/patients/${id}`).then(setPatient, setError);
  }, [id]);
  useEffect(load, [load]);

  // keep job states fresh while any job is unfinished
  useEffect(() => {
    if (!patient) return undefined;
    const open = (patient.jobs || []).some((j) => j.state === "queued" || j.state === "running");
    if (!open) return undefined;
    const t = setTimeout(load, POLL_MS);
    return () => clearTimeout(t);
  }, [patient, load]);

  if (error) return html`<main id="main"><${ErrorBox} error=${error} /></main>`;
  if (!patient) return html`<main id="main"><${Loading} what="patient" /></main>`;
  const clinician = me.roles.includes("clinician");
  const jobs = [...(patient.jobs || [])].reverse();

  return html`<main id="main">
    <p><a href="#/patients">← Patients</a></p>
    <h1>${patient.display_name} <span class="muted">${patient.external_id}</span></h1>
    <p>Consent: ${(patient.consent || []).map(consentLabel).join("; ") || "none recorded"}</p>

    <section aria-labelledby="files-h" class="card">
      <h2 id="files-h">Files</h2>
      <table aria-label="Files">
        <thead><tr><th scope="col">Kind</th><th scope="col">File</th><th scope="col">Size</th><th scope="col">SHA-256</th></tr></thead>
        <tbody>
          ${(patient.files || []).map(
            (f) => html`<tr key=${f.id}><td>${f.kind}</td><td>${f.filename}</td><td>${fmtBytes(f.size)}</td>
              <td><code title=${f.sha256}>${(f.sha256 || "").slice(0, 12)}</code></td></tr>`,
          )}
          ${(patient.files || []).length === 0 ? html`<tr><td colspan="4" class="muted">No files yet.</td></tr>` : null}
        </tbody>
      </table>
      ${clinician
        ? html`<div class="row">
            <${Upload} patientId=${patient.id} kind="vcf" label="VCF (.vcf, .vcf.gz)" accept=".vcf,.gz,.bgz" onDone=${load} />
            <${Upload} patientId=${patient.id} kind="phenopacket" label="Phenopacket (.json)" accept=".json" onDone=${load} />
          </div>`
        : null}
    </section>

    ${clinician
      ? html`<section aria-labelledby="start-h" class="card">
          <h2 id="start-h">Start analysis</h2>
          <${StartJob} patient=${patient} onStarted=${(job) => { window.location.hash = `#/jobs/${job.id}`; }} />
        </section>`
      : null}

    <section aria-labelledby="jobs-h" class="card">
      <h2 id="jobs-h">Analyses</h2>
      <table aria-label="Analyses">
        <thead><tr><th scope="col">Job</th><th scope="col">State</th><th scope="col">Started</th><th scope="col">Finished</th><th scope="col">Message</th></tr></thead>
        <tbody>
          ${jobs.map(
            (j) => html`<tr key=${j.id}><td><a href=${`#/jobs/${j.id}`}>Job ${j.id}</a></td>
              <td><${JobState} job=${j} /></td><td>${fmtDate(j.created_at)}</td>
              <td>${fmtDate(j.finished_at)}</td><td>${j.message || ""}</td></tr>`,
          )}
          ${jobs.length === 0 ? html`<tr><td colspan="5" class="muted">No analyses yet.</td></tr>` : null}
        </tbody>
      </table>
    </section>
  </main>`;
}

// ---------------------------------------------------------------- report

function SignOff({ jobId, finding, canSign, onSigned }) {
  const [open, setOpen] = useState(false);
  const [comment, setComment] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  if (finding.signed_off_by) {
    return html`<span class="signed">Signed off by ${finding.signed_off_by}, ${fmtDate(finding.signed_off_at)}</span>
      ${finding.comment ? html`<br /><span class="muted">“${finding.comment}”</span>` : null}`;
  }
  if (!canSign) return html`<span class="muted">not signed off</span>`;
  if (!open) {
    return html`<button type="button" class="small" onClick=${() => setOpen(true)}
      aria-label=${`Sign off: ${finding.title}`}>Sign off</button>`;
  }

  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const f = await api(`/jobs/${jobId}/findings/${encodeURIComponent(finding.id)}/signoff`, {
        method: "POST",
        json: { comment },
      });
      onSigned(f);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const cid = `signoff-${finding.id}`;
  return html`<form onSubmit=${submit} class="signoff" aria-label=${`Sign off ${finding.title}`}>
    <label for=${cid}>Comment</label>
    <textarea id=${cid} rows="2" value=${comment} onInput=${(e) => setComment(e.target.value)}></textarea>
    <button type="submit" disabled=${busy}>${busy ? "Signing…" : "Confirm sign-off"}</button>
    <button type="button" class="secondary" onClick=${() => setOpen(false)}>Cancel</button>
    <${ErrorBox} error=${error} />
  </form>`;
}

function DrugTable({ drugs }) {
  const [showGrey, setShowGrey] = useState(false);
  if (!drugs.length) return html`<p class="muted">No drug recommendations.</p>`;
  const counts = {};
  for (const d of drugs) counts[d.color] = (counts[d.color] || 0) + 1;
  const shown = showGrey ? drugs : drugs.filter((d) => d.color !== "grey");
  return html`<p>
      ${["red", "yellow", "green", "grey"].map(
        (c) => html`<span key=${c} class="count"><${Badge} color=${c} /> ${counts[c] || 0} ${COLOR_LABEL[c].toLowerCase()}</span> `,
      )}
    </p>
    <table aria-label="Drug recommendations" class="drugs">
      <thead><tr><th scope="col">Level</th><th scope="col">Drug</th><th scope="col">Genes and phenotypes</th><th scope="col">Recommendation</th><th scope="col">Guideline</th></tr></thead>
      <tbody>
        ${shown.map((f) => {
          const d = f.data || {};
          const rec = (f.recommendations || [])[0] || {};
          const url = rec.guideline || d.guideline;
          return html`<tr key=${f.title} class=${`row-${f.color}`}>
            <td><${Badge} color=${f.color} /></td>
            <th scope="row">${d.drug || f.title}</th>
            <td>${d.phenotypes || (f.genes || []).join(", ")}</td>
            <td>${rec.text || d.recommendation || f.summary}
              ${rec.classification ? html` <span class="muted">(${rec.classification})</span>` : null}</td>
            <td>${url ? html`<a href=${url} target="_blank" rel="noopener noreferrer">guideline</a>` : ""}</td>
          </tr>`;
        })}
      </tbody>
    </table>
    ${counts.grey
      ? html`<button type="button" class="secondary" aria-expanded=${showGrey} onClick=${() => setShowGrey(!showGrey)}>
          ${showGrey ? "Hide" : "Show"} ${counts.grey} drugs without a recommendation</button>`
      : null}`;
}

function Evidence({ items }) {
  if (!items || !items.length) return null;
  return html`<ul class="evidence">
    ${items.map(
      (e, i) => html`<li key=${i}>${e.url
        ? html`<a href=${e.url} target="_blank" rel="noopener noreferrer">${e.identifier || e.source}</a>`
        : e.identifier || e.source} <span class="muted">${e.source} ${e.version}${e.description ? ` — ${e.description}` : ""}</span></li>`,
    )}
  </ul>`;
}

function Diagnoses({ items, signOff }) {
  if (!items.length) return html`<p class="muted">No ranked diagnoses (no phenotypes given, or no rare-disease analysis).</p>`;
  return html`<ol class="diagnoses" aria-label="Ranked diagnoses">
    ${items.slice(0, 10).map((f) => {
      const d = f.data || {};
      const matched = (d.terms || []).filter((t) => t.kind === "match");
      return html`<li key=${f.title}>
        <details>
          <summary><strong>${f.title}</strong>
            <span class="muted"> rank ${f.rank}${f.score != null ? `, posterior ${f.score.toFixed(3)}` : ""}, confidence ${f.confidence}</span></summary>
          <p>${f.summary}</p>
          ${signOff(f)}
          ${d.genotype ? html`<p>Genotype: ${d.genotype}</p>` : null}
          ${matched.length
            ? html`<p>Matched phenotypes: ${matched.map((t) => `${t.label} (${t.term})`).join("; ")}</p>`
            : null}
          <h4>Evidence</h4>
          <${Evidence} items=${f.evidence} />
          ${(f.limitations || []).length
            ? html`<h4>Limitations</h4><ul>${f.limitations.map((l, i) => html`<li key=${i}>${l.text}</li>`)}</ul>`
            : null}
        </details>
      </li>`;
    })}
  </ol>`;
}

function Risks({ items, signOff }) {
  if (!items.length) return html`<p class="muted">No risk findings in this report.</p>`;
  return html`<ul class="cards">
    ${items.map(
      (f, i) => html`<li key=${i} class=${`card row-${f.color}`}>
        <h3><${Badge} color=${f.color} /> ${f.title}</h3>
        <p>${f.summary}</p>
        ${signOff(f)}
        <${Evidence} items=${f.evidence} />
        ${(f.limitations || []).map((l, j) => html`<p key=${j} class="muted">Limitation: ${l.text}</p>`)}
      </li>`,
    )}
  </ul>`;
}

async function downloadReport(jobId, format) {
  const res = await api(`/jobs/${jobId}/report?format=${format}`, { raw: true });
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  const ext = { html: "html", pdf: "pdf", json: "json", fhir: "fhir.json" }[format];
  a.href = url;
  a.download = `genoma-job-${jobId}.${ext}`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// links of the report (guidelines, OMIM, …) open in a new tab: no script runs in the
// sandboxed frame, and the frame itself never navigates away
function withBlankTargets(doc) {
  const base = '<base target="_blank">';
  return /<head[^>]*>/i.test(doc) ? doc.replace(/<head[^>]*>/i, (m) => m + base) : base + doc;
}

function FullReport({ jobId }) {
  const [doc, setDoc] = useState(null);
  const [error, setError] = useState(null);
  const [open, setOpen] = useState(false);
  useEffect(() => {
    if (!open || doc) return;
    api(`/jobs/${jobId}/report?format=html`, { raw: true })
      .then((r) => r.text())
      .then(setDoc, setError);
  }, [open, doc, jobId]);
  return html`<section aria-labelledby="full-h" class="card">
    <h2 id="full-h">Full report</h2>
    <button type="button" aria-expanded=${open} onClick=${() => setOpen(!open)}>${open ? "Hide" : "Show"} the full HTML report</button>
    <${ErrorBox} error=${error} />
    ${open && doc
      ? html`<iframe class="report" title="Full HTML report" srcdoc=${withBlankTargets(doc)}
          sandbox="allow-popups allow-popups-to-escape-sandbox"></iframe>`
      : open && !error ? html`<${Loading} what="report" />` : null}
  </section>`;
}

function reviewSummary(findings) {
  const urgent = findings.filter((f) => f.color === "red" || f.color === "yellow");
  const signed = urgent.filter((f) => f.signed_off_by).length;
  const red = urgent.filter((f) => f.color === "red").length;
  return `${red} red and ${urgent.length - red} yellow findings; ${signed} of ${urgent.length} signed off.`;
}

function JobPage({ id, me }) {
  const [job, setJob] = useState(null);
  const [error, setError] = useState(null);
  const [findings, setFindings] = useState(null);
  const [report, setReport] = useState(null);
  const [showAll, setShowAll] = useState(false);
  const [patient, setPatient] = useState(null);

  // poll the job until it is finished
  useEffect(() => {
    let stop = false;
    let timer = null;
    async function tick() {
      try {
        const j = await api(`/jobs/${id}`);
        if (stop) return;
        setJob(j);
        setError(null);
        if (j.state === "queued" || j.state === "running") timer = setTimeout(tick, POLL_MS);
      } catch (err) {
        if (stop) return;
        setError(err);
        // a server or network hiccup: keep following the job, more slowly
        if (!(err instanceof ApiError) || err.status === 0 || err.status >= 500) {
          timer = setTimeout(tick, 5 * POLL_MS);
        }
      }
    }
    tick();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [id]);

  const patientId = job && job.patient_id;
  useEffect(() => {
    if (patientId == null) return;
    api(`/patients/${patientId}`).then(setPatient, () => setPatient(null));
  }, [patientId]);

  const done = job && job.state === "succeeded";
  useEffect(() => {
    if (!done) return;
    api(`/jobs/${id}/findings`).then(setFindings, setError);
    api(`/jobs/${id}/report?format=json`).then(setReport, setError);
  }, [done, id]);

  if (error && !job) return html`<main id="main"><${ErrorBox} error=${error} /></main>`;
  if (!job) return html`<main id="main"><${Loading} what="analysis" /></main>`;

  const all = (report && report.findings) || [];
  const drugs = all
    .filter((f) => f.kind === "drug_recommendation")
    .sort((a, b) => (COLOR_ORDER[a.color] ?? 9) - (COLOR_ORDER[b.color] ?? 9) || a.title.localeCompare(b.title));
  const risks = all.filter((f) => f.analysis.startsWith("risk") || f.kind === "warfarin_dose" || f.kind === "polygenic_score");
  const diagnoses = all.filter((f) => f.kind === "diagnosis").sort((a, b) => (a.rank ?? 1e9) - (b.rank ?? 1e9));
  const canSign = me.roles.includes("clinician");
  const toSign = (findings || [])
    .slice()
    .sort((a, b) => (COLOR_ORDER[a.color] ?? 9) - (COLOR_ORDER[b.color] ?? 9));
  const listed = showAll ? toSign : toSign.filter((f) => f.color === "red" || f.color === "yellow" || f.signed_off_by);

  function replaceFinding(f) {
    setFindings((list) => list.map((x) => (String(x.id) === String(f.id) ? f : x)));
  }
  // the reviewable finding (from /findings) behind a finding of the JSON report
  const byKey = new Map((findings || []).map((f) => [`${f.title}|${f.color}`, f]));
  function signOff(rf) {
    const f = byKey.get(`${rf.title}|${rf.color}`);
    if (!f) return null;
    return html`<div class="signoff-box"><${SignOff} jobId=${job.id} finding=${f} canSign=${canSign} onSigned=${replaceFinding} /></div>`;
  }

  return html`<main id="main">
    <p><a href=${`#/patients/${job.patient_id}`}>← ${patient ? patient.display_name : "Patient"}</a></p>
    <h1>Analysis ${job.id}${patient ? html` <span class="muted">for ${patient.display_name} (${patient.external_id})</span>` : null}</h1>
    <p aria-live="polite" id="job-status">State: <${JobState} job=${job} />
      ${job.message && job.state !== "failed" ? html` <span class="muted">${job.message}</span>` : null}</p>
    <p class="muted">Started ${fmtDate(job.created_at)}${job.finished_at ? `, finished ${fmtDate(job.finished_at)}` : ""}</p>
    <${ErrorBox} error=${error} />
    ${job.state === "failed"
      ? html`<p class="error" role="alert">The analysis failed${job.message ? `: ${job.message}` : "."}</p>`
      : null}
    ${done
      ? html`<nav aria-label="Report sections" class="jump">Go to:
          ${[["signoff-h", "Findings to review"], ["drugs-h", "Drugs"], ["risks-h", "Risks and dosing"],
             ["dx-h", "Ranked diagnoses"], ["full-h", "Full report"]].map(
            ([target, label]) => html`<button key=${target} type="button" class="linklike"
              onClick=${() => document.getElementById(target).scrollIntoView()}>${label}</button>`,
          )}</nav>
        <p class="downloads">Download:
          ${["html", "pdf", "json", "fhir"].map(
            (f) => html`<button key=${f} type="button" class="secondary small"
              onClick=${() => downloadReport(job.id, f).catch(setError)}>${f.toUpperCase()}</button> `,
          )}</p>
        <section aria-labelledby="signoff-h" class="card">
          <h2 id="signoff-h">Findings to review</h2>
          ${findings === null
            ? html`<${Loading} what="findings" />`
            : html`<p role="status">${reviewSummary(toSign)}</p>
              <table aria-label="Findings to review">
                <thead><tr><th scope="col">Level</th><th scope="col">Section</th><th scope="col">Finding</th><th scope="col">Sign-off</th></tr></thead>
                <tbody>
                  ${listed.map(
                    (f) => html`<tr key=${f.id} class=${`row-${f.color}`}>
                      <td><${Badge} color=${f.color} /></td><td>${f.section}</td>
                      <td><strong>${f.title}</strong><br /><span class="summary">${f.summary}</span></td>
                      <td><${SignOff} jobId=${job.id} finding=${f} canSign=${canSign} onSigned=${replaceFinding} /></td>
                    </tr>`,
                  )}
                  ${listed.length === 0 ? html`<tr><td colspan="4" class="muted">No red or yellow findings.</td></tr>` : null}
                </tbody>
              </table>
              <button type="button" class="secondary" aria-expanded=${showAll} onClick=${() => setShowAll(!showAll)}>
                ${showAll ? "Show red and yellow findings only" : `Show all ${toSign.length} findings`}</button>`}
        </section>
        <section aria-labelledby="drugs-h" class="card">
          <h2 id="drugs-h">Drugs</h2>
          ${report ? html`<${DrugTable} drugs=${drugs} />` : html`<${Loading} what="report" />`}
        </section>
        <section aria-labelledby="risks-h" class="card">
          <h2 id="risks-h">Risks and dosing</h2>
          ${report ? html`<${Risks} items=${risks} signOff=${signOff} />` : null}
        </section>
        <section aria-labelledby="dx-h" class="card">
          <h2 id="dx-h">Ranked diagnoses</h2>
          ${report ? html`<${Diagnoses} items=${diagnoses} signOff=${signOff} />` : null}
        </section>
        <${FullReport} jobId=${job.id} />`
      : null}
  </main>`;
}

// ---------------------------------------------------------------- admin

function RoleBoxes({ idPrefix, roles, onChange, legend = "Roles", compact = false }) {
  return html`<fieldset class=${compact ? "roles compact" : "roles"}>
    <legend class=${compact ? "sr-only" : ""}>${legend}</legend>
    ${ROLES.map(
      (r) => html`<label class="check" key=${r}><input type="checkbox" id=${`${idPrefix}-${r}`}
        checked=${roles.includes(r)}
        onChange=${(e) => onChange(e.target.checked ? [...roles.filter((x) => x !== r), r] : roles.filter((x) => x !== r))} /> ${r}</label>`,
    )}
  </fieldset>`;
}

function UserRow({ user, onSaved }) {
  const [roles, setRoles] = useState(user.roles || []);
  const [active, setActive] = useState(user.active !== false);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(false);

  async function save() {
    setError(null);
    setSaved(false);
    try {
      const u = await api(`/users/${user.id}`, { method: "PATCH", json: { roles, active } });
      setSaved(true);
      onSaved(u);
    } catch (err) {
      setError(err);
    }
  }

  return html`<tr>
    <th scope="row">${user.username}</th>
    <td><${RoleBoxes} idPrefix=${`user-${user.id}`} roles=${roles} onChange=${setRoles}
      legend=${`Roles of ${user.username}`} compact=${true} /></td>
    <td><label class="check"><input type="checkbox" checked=${active} onChange=${(e) => setActive(e.target.checked)}
      aria-label=${`${user.username} is active`} /> active</label></td>
    <td><button type="button" class="small" onClick=${save} aria-label=${`Save ${user.username}`}>Save</button>
      ${saved ? html` <span role="status">saved</span>` : null}<${ErrorBox} error=${error} /></td>
  </tr>`;
}

function AdminPage() {
  const [users, setUsers] = useState(null);
  const [error, setError] = useState(null);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [roles, setRoles] = useState(["clinician"]);
  const [formError, setFormError] = useState(null);

  const load = useCallback(() => {
    api("/users").then(setUsers, setError);
  }, []);
  useEffect(load, [load]);

  async function create(e) {
    e.preventDefault();
    setFormError(null);
    try {
      await api("/users", { method: "POST", json: { username, password, roles } });
      setUsername("");
      setPassword("");
      load();
    } catch (err) {
      setFormError(err);
    }
  }

  return html`<main id="main">
    <h1>Users and roles</h1>
    <${ErrorBox} error=${error} />
    ${users === null && !error
      ? html`<${Loading} what="users" />`
      : html`<table aria-label="Users">
          <thead><tr><th scope="col">User</th><th scope="col">Roles</th><th scope="col">Status</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>${(users || []).map((u) => html`<${UserRow} key=${u.id} user=${u} onSaved=${load} />`)}</tbody>
        </table>`}
    <section aria-labelledby="new-user-h" class="card">
      <h2 id="new-user-h">New user</h2>
      <form onSubmit=${create}>
        <div class="row">
          <div><label for="nu-name">User name</label>
            <input id="nu-name" required autocomplete="off" value=${username} onInput=${(e) => setUsername(e.target.value)} /></div>
          <div><label for="nu-password">Initial password</label>
            <input id="nu-password" type="password" required minlength="8" autocomplete="new-password" value=${password} onInput=${(e) => setPassword(e.target.value)} /></div>
        </div>
        <${RoleBoxes} idPrefix="nu" roles=${roles} onChange=${setRoles} />
        <button type="submit">Create user</button>
        <${ErrorBox} error=${formError} />
      </form>
    </section>
  </main>`;
}

// ---------------------------------------------------------------- shell

function Nav({ me, onLogout, route }) {
  const here = route[0] || "patients";
  const link = (href, name, label) =>
    html`<a href=${href} aria-current=${here === name ? "page" : undefined}>${label}</a>`;
  return html`<header class="top">
    <span class="brand">genoma</span>
    <nav aria-label="Main">
      ${link("#/patients", "patients", "Patients")}
      ${me.roles.includes("admin") ? link("#/admin", "admin", "Users and roles") : null}
    </nav>
    <span class="who">${me.username} <span class="muted">(${me.roles.join(", ")})</span></span>
    <button type="button" class="secondary small" onClick=${onLogout}>Sign out</button>
  </header>`;
}

function App() {
  const [me, setMe] = useState(null);
  const [checked, setChecked] = useState(false);
  const route = useHashRoute();

  const loadMe = useCallback(() => {
    if (!token()) {
      setMe(null);
      setChecked(true);
      return;
    }
    api("/users/me").then(
      (u) => { setMe(u); setChecked(true); },
      () => { setMe(null); setChecked(true); },
    );
  }, []);
  useEffect(loadMe, [loadMe]);
  useEffect(() => {
    const out = () => setMe(null);
    window.addEventListener("genoma-logout", out);
    return () => window.removeEventListener("genoma-logout", out);
  }, []);

  function logout() {
    sessionStorage.removeItem(TOKEN_KEY);
    setMe(null);
  }

  if (!checked) return html`<main id="main"><${Loading} what="genoma" /></main>`;
  if (!me) return html`<${Login} onLogin=${loadMe} />`;

  let page;
  const [name, arg] = route;
  if (name === "patients" && arg) page = html`<${PatientPage} key=${arg} id=${arg} me=${me} />`;
  else if (name === "jobs" && arg) page = html`<${JobPage} key=${arg} id=${arg} me=${me} />`;
  else if (name === "admin") page = html`<${AdminPage} />`;
  else page = html`<${PatientList} me=${me} />`;
  return html`<${Nav} me=${me} onLogout=${logout} route=${route} />${page}`;
}

render(html`<${App} />`, document.getElementById("app"));
