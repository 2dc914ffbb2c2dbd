"""Vault put/get throughput vs the ``crypt4gh`` CLI on the same file, side by side.

Usage::

    python benchmarks/vault_throughput.py bench [--size-mb 200] [--runs 5] [--workdir DIR]
                                                [--before FILE]

creates a random file of ``--size-mb`` MB, a genoma vault and a passphrase-protected
Crypt4GH key pair, then runs `hyperfine` (if installed; else repeated wall-clock timings)
on four commands (and times them interleaved, run after run):

* ``crypt4gh encrypt --recipient_pk PUB < in > out``      (reference encrypt)
* ``crypt4gh encrypt --sk SEC --recipient_pk PUB ...``    (the same, with an authenticated
  sender key to unlock: the key situation of ``genoma put``)
* ``genoma put``  (this script's ``put`` sub-command: stream-encrypt into the vault,
  SHA-256 of the plaintext, segment seal, fsync, atomic commit)
* ``crypt4gh decrypt --sk SEC < in.c4gh > out``            (reference decrypt)
* ``genoma get``  (seal check, decrypt to a temporary file, verify length + SHA-256, rename)

``--before FILE`` adds ``put``/``get`` run with another ``vault.py`` (e.g. the last
committed one, ``git show HEAD:src/genoma/privacy/vault.py > /tmp/vault_before.py``), so a
before/after comparison is interleaved in the same runs under the same machine load.

``crypt4gh decrypt`` and ``genoma get`` unlock a passphrase-protected key (scrypt);
``crypt4gh encrypt`` uses an ephemeral sender key, while ``genoma put`` must unlock the
vault's service key (the authenticated sender). Results (markdown) are printed and
written to ``WORKDIR/results.md``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

# The timed ``put``/``get`` sub-commands import only what they use (the harness's own
# modules -- argparse, subprocess, statistics, ... -- are imported by ``bench``), so the
# interpreter start-up charged to genoma is not inflated by the benchmark harness.

PASS = "bench-passphrase"


def _vault_class(impl: Path | None) -> Any:
    """``Vault`` from genoma, or from the file ``impl`` (another version of vault.py)."""
    if impl is None:
        from genoma.privacy.vault import Vault

        return Vault
    import importlib.util

    spec = importlib.util.spec_from_file_location("vault_under_test", impl)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["vault_under_test"] = mod
    spec.loader.exec_module(mod)
    return mod.Vault


def _put(vault: Path, src: Path, impl: Path | None = None) -> None:
    with open(src, "rb") as fh:
        _vault_class(impl)(vault, PASS).put("bench", fh, dataset="bench", overwrite=True)


def _get(vault: Path, out: Path, impl: Path | None = None) -> None:
    _vault_class(impl)(vault, PASS).get_to_file("bench", out, force=True)


def _bench(size_mb: int, runs: int, workdir: Path, before: Path | None = None) -> str:
    import resource
    import shutil
    import statistics
    import subprocess
    import time

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
        "crypt4gh encrypt --sk (CLI, unlocks a sender key)": (
            f"{c4gh} encrypt --sk {w}/user.sec --recipient_pk {w}/user.pub "
            f"< {w}/in.bin > {w}/ref_sk.c4gh"
        ),
        "genoma vault put": f"{me} put {vault} {w}/in.bin",
        "crypt4gh decrypt (CLI)": f"{c4gh} decrypt --sk {w}/user.sec < {w}/ref.c4gh > {w}/ref.out",
        "genoma vault get": f"{me} get {vault} {w}/got.out",
    }
    if before is not None:
        b = f"--impl {before.resolve()}"
        cmds = {
            "crypt4gh encrypt (CLI)": cmds["crypt4gh encrypt (CLI)"],
            "crypt4gh encrypt --sk (CLI, unlocks a sender key)": cmds[
                "crypt4gh encrypt --sk (CLI, unlocks a sender key)"
            ],
            "genoma vault put (before)": f"{me} put {b} {vault} {w}/in.bin",
            "genoma vault put": cmds["genoma vault put"],
            "crypt4gh decrypt (CLI)": cmds["crypt4gh decrypt (CLI)"],
            "genoma vault get (before)": f"{me} get {b} {vault} {w}/got.out",
            "genoma vault get": cmds["genoma vault get"],
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
    load: list[float] = []
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
        load.append(os.getloadavg()[0])
    lines += [
        f"Load average (1 min) during the interleaved runs: {min(load):.1f}-{max(load):.1f}",
        "",
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
    # The vault's object is a standard Crypt4GH file: the reference CLI decrypts it.
    v = Vault(vault, PASS)
    m = v.manifest("bench")
    sk = vault / (v.config["service_keys"][0]["file"] + ".sec")
    subprocess.run(
        f"{c4gh} decrypt --sk {sk} < {vault / m.data} > {w}/cli_of_vault.out",
        shell=True, check=True, env=env, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    if (w / "cli_of_vault.out").read_bytes() != src.read_bytes():
        raise SystemExit("crypt4gh CLI does not decrypt the vault object to the input")
    (w / "cli_of_vault.out").unlink()
    lines += ["", "Checked: both round trips, and `crypt4gh decrypt` of the vault's object."]
    out = "\n".join(lines) + "\n"
    (workdir / "results.md").write_text(out)
    return out


def _fast_main(argv: list[str]) -> bool:
    """``put|get [--impl FILE] VAULT PATH`` without importing argparse; False if not that."""
    if len(argv) not in (3, 5) or argv[0] not in ("put", "get"):
        return False
    impl = None
    if len(argv) == 5:
        if argv[1] != "--impl":
            return False
        impl = Path(argv[2])
    vault, path = Path(argv[-2]), Path(argv[-1])
    if argv[0] == "put":
        _put(vault, path, impl)
    else:
        _get(vault, path, impl)
    return True


def main() -> None:
    if _fast_main(sys.argv[1:]):
        return
    import argparse
    import tempfile

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench")
    b.add_argument("--size-mb", type=int, default=200)
    b.add_argument("--runs", type=int, default=5)
    b.add_argument("--workdir", type=Path, default=None)
    b.add_argument("--before", type=Path, default=None, help="another vault.py to compare")
    p = sub.add_parser("put")
    p.add_argument("--impl", type=Path, default=None)
    p.add_argument("vault", type=Path)
    p.add_argument("src", type=Path)
    g = sub.add_parser("get")
    g.add_argument("--impl", type=Path, default=None)
    g.add_argument("vault", type=Path)
    g.add_argument("out", type=Path)
    a = ap.parse_args()
    if a.cmd == "put":
        _put(a.vault, a.src, a.impl)
    elif a.cmd == "get":
        _get(a.vault, a.out, a.impl)
    else:
        workdir = a.workdir or Path(tempfile.mkdtemp(prefix="genoma-vault-bench-"))
        print(_bench(a.size_mb, a.runs, workdir, a.before))


if __name__ == "__main__":
    main()
