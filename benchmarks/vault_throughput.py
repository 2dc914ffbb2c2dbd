"""Vault put/get throughput vs the ``crypt4gh`` CLI on the same file, side by side.

Usage::

    python benchmarks/vault_throughput.py bench [--size-mb 200] [--runs 5] [--workdir DIR]

creates a random file of ``--size-mb`` MB, a genoma vault and a passphrase-protected
Crypt4GH key pair, then runs `hyperfine` (if installed; else repeated wall-clock timings)
on four commands (and times them interleaved, run after run):

* ``crypt4gh encrypt --recipient_pk PUB < in > out``      (reference encrypt)
* ``genoma put``  (this script's ``put`` sub-command: stream-encrypt into the vault,
  SHA-256 of the plaintext, segment seal, fsync, atomic commit)
* ``crypt4gh decrypt --sk SEC < in.c4gh > out``            (reference decrypt)
* ``genoma get``  (decrypt to a file, verify length + SHA-256 + seal, fsync, rename)

Both sides unlock a passphrase-protected key (scrypt) once per run. Results (markdown)
are printed and written to ``WORKDIR/results.md``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PASS = "bench-passphrase"


def _put(vault: Path, src: Path) -> None:
    from genoma.privacy.vault import Vault

    with open(src, "rb") as fh:
        Vault(vault, PASS).put("bench", fh, dataset="bench", overwrite=True)


def _get(vault: Path, out: Path) -> None:
    from genoma.privacy.vault import Vault

    Vault(vault, PASS).get_to_file("bench", out, force=True)


def _bench(size_mb: int, runs: int, workdir: Path) -> str:
    from genoma.privacy.keys import generate_keypair
    from genoma.privacy.vault import Vault

    workdir.mkdir(parents=True, exist_ok=True)
    src = workdir / "in.bin"
    if not src.exists() or src.stat().st_size != size_mb * 1_000_000:
        with open(src, "wb") as fh:
            for _ in range(size_mb):
                fh.write(os.urandom(1_000_000))
    vault = workdir / "vault"
    if vault.exists():
        shutil.rmtree(vault)
    Vault.init(vault, PASS)
    for p in ("user.sec", "user.pub"):
        (workdir / p).unlink(missing_ok=True)
    generate_keypair(workdir / "user.sec", workdir / "user.pub", PASS)
    bindir = Path(sys.executable).parent
    c4gh = str(bindir / "crypt4gh")
    me = f"{sys.executable} {Path(__file__).resolve()}"
    w = workdir
    cmds = {
        "crypt4gh encrypt (CLI)": f"{c4gh} encrypt --recipient_pk {w}/user.pub < {w}/in.bin > {w}/ref.c4gh",
        "genoma vault put": f"{me} put {vault} {w}/in.bin",
        "crypt4gh decrypt (CLI)": f"{c4gh} decrypt --sk {w}/user.sec < {w}/ref.c4gh > {w}/ref.out",
        "genoma vault get": f"{me} get {vault} {w}/got.out",
    }
    env = {**os.environ, "C4GH_PASSPHRASE": PASS}
    # prepare inputs of the decrypt commands
    subprocess.run(
        cmds["crypt4gh encrypt (CLI)"], shell=True, check=True, env=env, stderr=subprocess.DEVNULL
    )
    subprocess.run(cmds["genoma vault put"], shell=True, check=True, env=env)
    lines = [
        f"Input: {size_mb} MB random bytes (page cache warm), {runs} runs, "
        f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
        f"load average at start {os.getloadavg()[0]:.1f}",
        "",
    ]
    # Interleaved wall-clock runs (robust to load drift on a shared machine) ...
    times: dict[str, list[float]] = {k: [] for k in cmds}
    cpu: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(runs):
        for name, c in cmds.items():
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            subprocess.run(c, shell=True, check=True, env=env, stderr=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - t)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name].append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    lines += [
        "Interleaved runs (wall clock and CPU time user+sys, both including interpreter",
        "start-up and key unlock):",
        "",
        "| command | wall median [s] | wall min [s] | MB/s (median wall) | CPU median [s] |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, ts in times.items():
        med = statistics.median(ts)
        lines.append(
            f"| {name} | {med:.3f} | {min(ts):.3f} | {size_mb / med:.0f} | {statistics.median(cpu[name]):.3f} |"
        )
    # ... and hyperfine (each command's runs back to back), when installed.
    if shutil.which("hyperfine"):
        md = workdir / "hyperfine.md"
        hcmd = [
            "hyperfine",
            "--warmup",
            "1",
            "--runs",
            str(runs),
            "--export-markdown",
            str(md),
            "--style",
            "basic",
        ]
        for name, c in cmds.items():
            hcmd += ["-n", name, c]
        subprocess.run(hcmd, check=True, env=env, stdout=sys.stderr)
        lines += ["", "hyperfine:", "", md.read_text()]
    lines += ["", "Commands:", "", "```"] + [f"{k}: {v}" for k, v in cmds.items()] + ["```"]
    if (w / "got.out").read_bytes() != src.read_bytes() or (
        w / "ref.out"
    ).read_bytes() != src.read_bytes():
        raise SystemExit("round trip mismatch")
    out = "\n".join(lines) + "\n"
    (workdir / "results.md").write_text(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench")
    b.add_argument("--size-mb", type=int, default=200)
    b.add_argument("--runs", type=int, default=5)
    b.add_argument("--workdir", type=Path, default=None)
    p = sub.add_parser("put")
    p.add_argument("vault", type=Path)
    p.add_argument("src", type=Path)
    g = sub.add_parser("get")
    g.add_argument("vault", type=Path)
    g.add_argument("out", type=Path)
    a = ap.parse_args()
    if a.cmd == "put":
        _put(a.vault, a.src)
    elif a.cmd == "get":
        _get(a.vault, a.out)
    else:
        workdir = a.workdir or Path(tempfile.mkdtemp(prefix="genoma-vault-bench-"))
        print(_bench(a.size_mb, a.runs, workdir))


if __name__ == "__main__":
    main()
