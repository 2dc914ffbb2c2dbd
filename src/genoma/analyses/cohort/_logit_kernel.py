"""Compiled Newton–Raphson and Firth fits of the logistic GWAS model, one variant at a time.

The model of every variant is ``logit P(y=1) = C β + g γ`` (``C``: the ``k`` covariate
columns, intercept first; ``g``: the ALT dosage). :func:`logistic_kernel` returns a Numba
function that fits it for a block of variants, with the rules of the NumPy reference
(:func:`genoma.analyses.cohort.gwas._logistic_rows`): start at the null model's
coefficients and ``γ = 0``, Newton steps ``(XᵀWX)⁻¹ Xᵀ(y − μ)`` until the largest step is
below ``tol`` (``1e-10``) or ``max_iter`` steps; a singular information matrix or a
non-finite step is a failed fit. :func:`firth_kernel` fits Firth's penalised likelihood
for the variants the caller refits (reference: :func:`genoma.analyses.cohort.gwas._firth_rows`).

Why generated code: one pass over the samples computes ``η``, ``μ``, the weights and every
entry of ``XᵀWX`` and ``Xᵀ(y − μ)``. With the ``(k + 1)(k + 2)/2 + k + 1`` sums held in
separate scalar accumulators, LLVM vectorises the loop and the sums are independent
dependency chains: 2.7 ns per sample and Newton step at ``k = 3`` against 7 ns for
the same work written with loops over the covariates (which vectorise each sum alone,
one chain at a time). The loop body is therefore written out for the number of
covariates of the run, as Python source, and compiled once; the source goes into
``<GENOMA_HOME>/cache/kernels`` (:mod:`genoma.scale.codegen`) so that Numba's on-disk
cache can keep the machine code (without a writable cache the source is compiled in
memory: ≈ 5 s per process at ``k = 3``).

``exp`` is evaluated in the loop (Numba has no vector ``exp`` here: a ``math.exp`` call
would keep the loop scalar) by Cody–Waite reduction ``x = m ln 2 + r``, ``|r| ≤ ln 2 / 2``,
a degree-12 Taylor polynomial for ``e^r`` (truncation error < 1e-15 relative; Estrin's
scheme) and ``2^m`` built from its IEEE-754 bits; the arguments are clamped to ±700, where
``μ(1 − μ)`` is below 1e-300 anyway. Firth's log-likelihood needs ``log(1 + e^η)``: from
the same ``e^-|η|`` by an ``atanh`` series (no ``math.log`` in the loop either).
"""

from __future__ import annotations

import functools
import hashlib
import math
import threading
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["STATUS", "firth_kernel", "logistic_kernel"]

#: Values of the status column of the kernel's output.
STATUS = {0: "converged", 1: "constant genotype", 2: "separated", 3: "not converged",
          4: "singular or non-finite"}

_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238
_LN2_LO = 1.9082149292705877e-10


_FASTMATH = {"reassoc", "contract", "arcp", "nsz"}


@functools.cache
def _helpers() -> Any:
    """Compile the shared helpers.

    Returns ``(as_f64, expit, newton_update, chol_inverse, expit_softplus)``: the bit
    cast, ``1 / (1 + e^-x)``, one Newton update, a Cholesky inverse with ``log det`` and
    ``(1 / (1 + e^-x), log(1 + e^x))``.
    """
    import numba
    from numba.core import types
    from numba.core.extending import intrinsic

    @intrinsic
    def as_f64(typingctx: Any, x: Any) -> Any:
        sig = types.float64(types.int64)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.bitcast(args[0], context.get_value_type(types.float64))

        return sig, codegen

    @numba.njit(inline="always", error_model="numpy", fastmath=_FASTMATH)
    def exp(x: float) -> float:
        x = min(max(x, -700.0), 700.0)
        m = math.floor(x * _LOG2E + 0.5)
        r = x - m * _LN2_HI - m * _LN2_LO
        # Estrin's scheme (a shallower dependency chain than Horner's)
        r2 = r * r
        r4 = r2 * r2
        er = ((1.0 + r) + (0.5 + r * (1.0 / 6)) * r2) + (
            (1.0 / 24 + r * (1.0 / 120)) + (1.0 / 720 + r * (1.0 / 5040)) * r2) * r4 + (
            ((1.0 / 40320 + r * (1.0 / 362880)) + (1.0 / 3628800 + r * (1.0 / 39916800)) * r2)
            + (1.0 / 479001600) * r4) * (r4 * r4)
        return er * as_f64((np.int64(m) + 1023) << 52)

    @numba.njit(inline="always", error_model="numpy", fastmath=_FASTMATH)
    def expit(eta: float) -> float:
        return 1.0 / (1.0 + exp(-eta))

    @numba.njit(inline="always", error_model="numpy", fastmath=_FASTMATH)
    def expit_softplus(eta: float) -> tuple[float, float]:
        """``1 / (1 + e^-eta)`` and ``log(1 + e^eta)`` from one ``t = e^-|eta|`` in (0, 1]:
        ``log(1 + e^eta) = max(eta, 0) + log1p(t)``, ``log1p(t) = 2 atanh(s)``,
        ``s = t / (2 + t) ≤ 1/3``, by its odd series (18 terms: truncation below 10⁻¹⁷
        relative; no cancellation for small ``t``)."""
        t = exp(-abs(eta))
        s = t / (2.0 + t)
        z = s * s
        acc = 1.0 / 37
        for i in range(17, -1, -1):
            acc = 1.0 / (2 * i + 1) + z * acc
        r = 1.0 / (1.0 + t)
        return (r if eta >= 0.0 else t * r), max(eta, 0.0) + 2.0 * s * acc

    @numba.njit(nogil=True, error_model="numpy")
    def chol_inverse(a: np.ndarray, lo: np.ndarray, inv: np.ndarray, tmp: np.ndarray,
                     invert: bool) -> float:
        """Cholesky ``a = L Lᵀ`` (``a`` symmetric, full) and, if ``invert``, ``inv = a⁻¹``.

        Returns ``log det a``, or NaN when ``a`` is not positive definite (a pivot below
        10⁻¹⁴ of its diagonal entry, or not finite).
        """
        p = a.shape[0]
        logdet = 0.0
        for q in range(p):
            for q2 in range(q + 1):
                s = a[q, q2]
                for t in range(q2):
                    s -= lo[q, t] * lo[q2, t]
                if q == q2:
                    if not s > 1e-14 * a[q, q]:
                        return np.nan
                    lo[q, q] = math.sqrt(s)
                    logdet += math.log(s)
                else:
                    lo[q, q2] = s / lo[q2, q2]
        if invert:
            for col in range(p):  # L Lᵀ X = I, column by column
                for q in range(p):
                    s = 1.0 if q == col else 0.0
                    for t in range(q):
                        s -= lo[q, t] * tmp[t]
                    tmp[q] = s / lo[q, q]
                for q in range(p - 1, -1, -1):
                    s = tmp[q]
                    for t in range(q + 1, p):
                        s -= lo[t, q] * inv[t, col]
                    inv[q, col] = s / lo[q, q]
        return logdet

    @numba.njit(nogil=True, error_model="numpy")
    def newton_update(a: np.ndarray, u: np.ndarray, b: np.ndarray, lo: np.ndarray,
                      inv: np.ndarray, step: np.ndarray, tol: float) -> int:
        """``b += a⁻¹ u``; ``inv`` gets ``a⁻¹``.

        Returns 0 (go on), 1 (converged: largest step below ``tol``) or 2 (``a`` not
        positive definite, or a non-finite step).
        """
        p = a.shape[0]
        if np.isnan(chol_inverse(a, lo, inv, step, True)):
            return 2
        big = 0.0
        for q in range(p):
            s = 0.0
            for q2 in range(p):
                s += inv[q, q2] * u[q2]
            if not math.isfinite(s):
                return 2
            step[q] = s
            big = max(big, abs(s))
        for q in range(p):
            b[q] += step[q]
        return 1 if big < tol else 0

    return as_f64, expit, newton_update, chol_inverse, expit_softplus


def _source(k: int, *, packed: bool, intercept: bool) -> str:
    """Python source of the fitting kernels for ``k`` covariate columns.

    ``packed``: the rows are 2-bit packed calls (:mod:`genoma.io.packed`) instead of
    dosages; ``intercept``: the first covariate column is all ones (then not read).
    """
    p = k + 1
    names = [f"x{q}" for q in range(k)] + ["gj"]
    pairs = [(q, q2) for q in range(p) for q2 in range(q, p)]
    ind = " " * 16
    eta = " + ".join(f"b{q} * {names[q]}" for q in range(p))

    def loads(ind: str) -> list[str]:
        return [*[f"{ind}x{q} = 1.0" if q == 0 and intercept else f"{ind}x{q} = c{q}[j]"
                  for q in range(k)], f"{ind}gj = g[j]"]

    setup = [
        "    v = dose.shape[0]",
        "    n = idx.shape[0]",
        "    g = np.empty(n)",
        "    wo = np.empty(n)",
        *(["    nbytes = dose.shape[1]",
           "    codes = np.empty(4 * nbytes, dtype=np.uint8)"] if packed else []),
        f"    a = np.empty(({p}, {p}))",
        f"    lo = np.zeros(({p}, {p}))",
        f"    inv = np.empty(({p}, {p}))",
        f"    b = np.empty({p})",
        f"    u = np.empty({p})",
        f"    step = np.empty({p})",
        *[f"    c{q} = ct[{q}]" for q in range(k)],
    ]
    gather = [  # one row's dosages (0 where missing), observed flags and sums
        "        nobs = 0.0",
        "        sd = 0.0",
        "        sdd = 0.0",
        "        sdy = 0.0",
        *(["        for o in range(nbytes):",  # the row's codes, 4 per byte
           "            byte = dose[i, o]",
           "            codes[4 * o] = byte & 3",
           "            codes[4 * o + 1] = (byte >> 2) & 3",
           "            codes[4 * o + 2] = (byte >> 4) & 3",
           "            codes[4 * o + 3] = byte >> 6"] if packed else []),
        "        for j in range(n):",
        *(["            x = codes[idx[j]]",
           "            ob = 1.0 if x != 3 else 0.0"] if packed else
          ["            x = dose[i, idx[j]]",
           "            ob = 1.0 if x >= 0 else 0.0"]),
        "            gx = float(x) * ob",
        "            g[j] = gx",
        "            wo[j] = ob",
        "            nobs += ob",
        "            sd += gx",
        "            sdd += gx * gx",
        "            sdy += gx * y[j]",
    ]
    start = [*[f"        b[{q}] = beta0[{q}]" for q in range(k)], f"        b[{k}] = 0.0"]
    store_a = [*[f"    a[{q}, {q2}] = a{q}_{q2}" for q, q2 in pairs],
               *[f"    a[{q2}, {q}] = a{q}_{q2}" for q, q2 in pairs if q2 != q]]
    lines = [
        "import math",
        "",
        "import numba",
        "import numpy as np",
        "",
        "from genoma.analyses.cohort._logit_kernel import _FASTMATH, _helpers",
        "",
        "_as_f64, _expit, _newton_update, _chol_inverse, _expit_softplus = _helpers()",
        "_CACHE = '__file__' in globals()",
        "_jit = numba.njit(cache=_CACHE, nogil=True, error_model='numpy', fastmath=_FASTMATH)",
        "",
        "",
        "@_jit",
        "def fit(dose, idx, y, ct, beta0, max_iter, tol, out):",
        *setup,
        "    for i in range(v):",
        *gather,
        "        ss = sdd - sd * sd / max(nobs, 1.0)",
        "        out[i, 0] = nobs",
        "        out[i, 1] = sd",
        "        out[i, 2] = ss",
        "        out[i, 3] = np.nan",
        "        out[i, 4] = np.nan",
        "        if ss <= 0.0:",
        "            out[i, 5] = 1.0",
        "            continue",
        "        if sdy <= 0.0 or sd - sdy <= 0.0:",
        "            out[i, 5] = 2.0",
        "            continue",
        *start,
        "        status = 3.0",
        "        for _it in range(max_iter):",
        *[f"            b{q} = b[{q}]" for q in range(p)],
        *[f"            a{q}_{q2} = 0.0" for q, q2 in pairs],
        *[f"            u{q} = 0.0" for q in range(p)],
        "            for j in range(n):",
        *loads(ind),
        f"{ind}mu = _expit({eta})",
        f"{ind}o = wo[j]",
        f"{ind}w = mu * (1.0 - mu) * o",
        f"{ind}r = (y[j] - mu) * o",
        *[f"{ind}w{q} = w * {names[q]}" for q in range(p)],
        *[f"{ind}a{q}_{q2} += w{q} * {names[q2]}" for q, q2 in pairs],
        *[f"{ind}u{q} += r * {names[q]}" for q in range(p)],
        *["        " + ln for ln in store_a],
        *[f"            u[{q}] = u{q}" for q in range(p)],
        "            done = _newton_update(a, u, b, lo, inv, step, tol)",
        "            if done == 1:",
        "                status = 0.0",
        "                break",
        "            if done == 2:",
        "                status = 4.0",
        "                break",
        "        out[i, 5] = status",
        "        if status == 0.0:",
        f"            out[i, 3] = b[{k}]",
        f"            out[i, 4] = inv[{k}, {k}]",
        "    return out",
        "",
        "",
        "@_jit",
        "def _info(b, g, wo, y, ct, a):",
        '    """XᵀWX into ``a`` at ``b``; returns the log-likelihood."""',
        *[f"    c{q} = ct[{q}]" for q in range(k)],
        *[f"    b{q} = b[{q}]" for q in range(p)],
        *[f"    a{q}_{q2} = 0.0" for q, q2 in pairs],
        "    ll = 0.0",
        "    for j in range(g.shape[0]):",
        *loads("        "),
        f"        eta = {eta}",
        "        mu, sp = _expit_softplus(eta)",
        "        o = wo[j]",
        "        w = mu * (1.0 - mu) * o",
        "        ll += (y[j] * eta - sp) * o",
        *[f"        w{q} = w * {names[q]}" for q in range(p)],
        *[f"        a{q}_{q2} += w{q} * {names[q2]}" for q, q2 in pairs],
        *store_a,
        "    return ll",
        "",
        "",
        "@_jit",
        "def _score(b, g, wo, y, ct, m, u):",
        '    """Firth\'s modified score Xᵀ(y − μ + h (1/2 − μ)) into ``u`` at ``b``, with',
        '    ``m`` = (XᵀWX)⁻¹ at ``b`` (h: the hat matrix diagonal, w xᵀ m x)."""',
        *[f"    c{q} = ct[{q}]" for q in range(k)],
        *[f"    b{q} = b[{q}]" for q in range(p)],
        *[f"    m{q}_{q2} = m[{q}, {q2}]" for q, q2 in pairs],
        *[f"    u{q} = 0.0" for q in range(p)],
        "    for j in range(g.shape[0]):",
        *loads("        "),
        "        mu = _expit(" + eta + ")",
        "        o = wo[j]",
        "        h = mu * (1.0 - mu) * o * (" + " + ".join(
            f"m{q}_{q2} * {names[q]} * {names[q2]}" + (" * 2.0" if q != q2 else "")
            for q, q2 in pairs) + ")",
        "        r = (y[j] - mu + h * (0.5 - mu)) * o",
        *[f"        u{q} += r * {names[q]}" for q in range(p)],
        *[f"    u[{q}] = u{q}" for q in range(p)],
        "",
        "",
        "@_jit",
        "def firth(dose, idx, y, ct, beta0, max_iter, tol, out):",
        *setup,
        f"    an = np.empty(({p}, {p}))",
        f"    bn = np.empty({p})",
        "    for i in range(v):",
        *gather,
        "        out[i, 0] = np.nan",
        "        out[i, 1] = np.nan",
        "        out[i, 2] = 0.0",
        *start,
        "        ll = _info(b, g, wo, y, ct, a)",
        "        pen = ll + 0.5 * _chol_inverse(a, lo, inv, step, False)",
        "        if np.isnan(pen):",
        "            pen = -np.inf",
        "        conv = False",
        "        for _it in range(max_iter):",
        "            if np.isnan(_chol_inverse(a, lo, inv, step, True)):",
        "                break",
        "            _score(b, g, wo, y, ct, inv, u)",
        "            big = 0.0",
        f"            for q in range({p}):",
        "                s = 0.0",
        f"                for q2 in range({p}):",
        "                    s += inv[q, q2] * u[q2]",
        "                step[q] = s",
        "                big = max(big, abs(s))",
        "            if not math.isfinite(big):",
        "                break",
        "            if big > 5.0:  # Heinze & Schemper: at most 5 per step",
        f"                for q in range({p}):",
        "                    step[q] *= 5.0 / big",
        "            for half in range(31):  # step halving while the penalised",
        "                if half:  # likelihood decreases (30 halvings at most)",
        f"                    for q in range({p}):",
        "                        step[q] *= 0.5",
        f"                for q in range({p}):",
        "                    bn[q] = b[q] + step[q]",
        "                lln = _info(bn, g, wo, y, ct, an)",
        "                npen = lln + 0.5 * _chol_inverse(an, lo, inv, u, False)",
        "                if np.isnan(npen):",
        "                    npen = -np.inf",
        "                if npen >= pen - 1e-10:",
        "                    break",
        "            big = 0.0",
        f"            for q in range({p}):",
        "                big = max(big, abs(step[q]))",
        "                b[q] = bn[q]",
        f"                for q2 in range({p}):",
        "                    a[q, q2] = an[q, q2]",
        "            done = big < tol or abs(npen - pen) < 1e-10",
        "            pen = npen",
        "            if done:",
        "                conv = True",
        "                break",
        "        if conv and not np.isnan(_chol_inverse(a, lo, inv, step, True)):",
        f"            out[i, 0] = b[{k}]",
        f"            out[i, 1] = inv[{k}, {k}]",
        "            out[i, 2] = 1.0",
        "    return out",
        "",
    ]
    return "\n".join(lines)


_MODULE_LOCK = threading.Lock()


def _module(k: int, packed: bool, intercept: bool) -> Any:
    """The generated kernels' module, loaded once per process (scan tasks run in threads)."""
    with _MODULE_LOCK:
        return _load_module(k, packed, intercept)


@functools.cache
def _load_module(k: int, packed: bool, intercept: bool) -> Any:
    """The generated kernels' module (written to the kernel cache, else in memory)."""
    import numba

    from genoma.scale.codegen import kernel_dir, load_source_module

    _helpers()
    source = _source(k, packed=packed, intercept=intercept)
    this = Path(__file__).read_bytes()
    digest = hashlib.sha256(source.encode() + this + numba.__version__.encode()).hexdigest()
    name = f"genoma_logit_k{k}{'_packed' if packed else ''}_{digest[:16]}"
    return load_source_module(name, source, kernel_dir())


def logistic_kernel(k: int, *, packed: bool = False, intercept: bool = False) -> Any:
    """The compiled Newton fitting kernel for ``k`` covariate columns.

    ``fit(dose, idx, y, ct, beta0, max_iter, tol, out)`` fits every row of ``dose``
    (``(variants, all samples)``, int8 or float; negative = missing call) on the samples
    ``idx`` with phenotype ``y`` (0/1), covariates ``ct`` (``(k, samples)``, C order) and
    null-model coefficients ``beta0``, and fills ``out`` (``(variants, 6)`` float64):
    observed calls, ``Σ g``, ``Σ (g − ḡ)²``, ``γ``, the ``γ`` diagonal entry of the
    inverse information matrix (at the coefficients before the last step, which is below
    ``tol``) and the status (:data:`STATUS`). Variants with a constant genotype, or with
    every ALT allele in cases or every one in controls (complete separation: no finite
    maximum), are not fitted. Releases the GIL.

    With ``packed`` the rows of ``dose`` are 2-bit packed calls (``uint8``, sample ``s``
    in byte ``s >> 2``, bits ``2 (s & 3)``, code 3 = missing; :mod:`genoma.io.packed`).
    With ``intercept`` the first row of ``ct`` must be all ones: it is not read.
    """
    return _module(k, packed, intercept).fit


def firth_kernel(k: int, *, packed: bool = False, intercept: bool = False) -> Any:
    """The compiled Firth fitting kernel for ``k`` covariate columns.

    ``firth(dose, idx, y, ct, beta0, max_iter, tol, out)``: same inputs as
    :func:`logistic_kernel`; fills ``out`` (``(variants, 3)``) with ``γ``, its diagonal
    entry of the inverse information matrix and 1 (converged) or 0 (NaN, NaN, 0).
    Firth's penalised likelihood ``l(β) + ½ log det I(β)`` is maximised by the modified
    score ``Xᵀ(y − μ + h (½ − μ))`` (Firth 1993), with steps capped at 5 and halved while
    the penalised likelihood decreases (Heinze & Schemper 2002), from the null model's
    coefficients, until the largest step is below ``tol`` or the penalised likelihood moves
    by less than 10⁻¹⁰ — the rules of the NumPy reference
    (:func:`genoma.analyses.cohort.gwas._firth_rows`). Releases the GIL.
    """
    return _module(k, packed, intercept).firth
