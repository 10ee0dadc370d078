"""The statistics of calibration: censored dwell fits, competing-risk rates, partial pooling, deal sizes, creation.

Each function takes plain arrays and returns numbers; :mod:`simcore.calibrate.calibrate` decides
what to fit for which cell and stage. Choices and their reasons are in ``docs/calibration.md``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special, stats

Z90 = 1.6448536269514722  # the 95% normal quantile: a 90% two-sided interval
FAMILIES = ("lognormal", "gamma", "exponential")
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def censored_loglik(family, theta, duration, event, weight):
    """Weighted log-likelihood of right-censored durations: log pdf at events, log survival at censorings.

    ``theta`` = (log mean, log cv); the exponential ignores the cv. Written with
    ``scipy.special`` rather than frozen ``scipy.stats`` distributions: the same formulas,
    without building a distribution object per evaluation (that was most of the run time).
    """
    log_mean = theta[0]
    log_x = np.log(duration)
    if family == "exponential":
        rate = math.exp(-log_mean)
        return float(np.dot(weight, np.where(event, -log_mean, 0.0) - duration * rate))
    cv = math.exp(theta[1])
    if family == "lognormal":
        s = math.sqrt(math.log1p(cv * cv))
        mu = log_mean - 0.5 * s * s
        z = (log_x - mu) / s
        ll = np.where(event, -log_x - math.log(s) - _HALF_LOG_2PI - 0.5 * z * z, special.log_ndtr(-z))
    else:
        a = 1.0 / (cv * cv)
        log_scale = log_mean - math.log(a)
        y = duration * math.exp(-log_scale)
        with np.errstate(divide="ignore"):
            sf = np.log(special.gammaincc(a, y))
        ll = np.where(
            event, (a - 1.0) * log_x - y - special.gammaln(a) - a * log_scale, np.maximum(sf, -745.0)
        )
    return float(np.dot(weight, ll))


def lognormal_nll_and_gradient(theta, duration, event, weight):
    """Negative censored log-likelihood of the lognormal in (log mean, log cv), and its gradient.

    The analytic gradient halves the likelihood evaluations of a fit (the most common family
    and the bulk of calibration's time on a large history).
    """
    log_mean, log_cv = theta
    e2 = math.exp(2.0 * log_cv)
    s = math.sqrt(math.log1p(e2))
    mu = log_mean - 0.5 * s * s
    log_x = np.log(duration)
    z = (log_x - mu) / s
    log_surv = special.log_ndtr(-z)
    ll = np.where(event, -log_x - math.log(s) - _HALF_LOG_2PI - 0.5 * z * z, log_surv)
    hazard = np.exp(-_HALF_LOG_2PI - 0.5 * z * z - log_surv)  # phi(z) / Phi(-z)
    d_mu = np.where(event, z, hazard) / s
    d_s = np.where(event, (z * z - 1.0), hazard * z) / s
    ds_dv = e2 / (1.0 + e2) / s
    g_mean = float(np.dot(weight, d_mu))
    g_cv = float(np.dot(weight, d_mu * (-s * ds_dv) + d_s * ds_dv))
    return -float(np.dot(weight, ll)), -np.array([g_mean, g_cv])


def _hessian(f, x, h=1e-4):
    n = len(x)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            e_i, e_j = np.eye(n)[i] * h, np.eye(n)[j] * h
            out[i, j] = out[j, i] = (
                f(x + e_i + e_j) - f(x + e_i - e_j) - f(x - e_i + e_j) + f(x - e_i - e_j)
            ) / (4 * h * h)
    return out


def fit_dwell(family, duration, event, weight=None):
    """Censored maximum likelihood of one dwell distribution.

    Parameters
    ----------
    family : {"lognormal", "gamma", "exponential"}
    duration : array of float
        Days in the stage (to the outcome, or to the as-of date when censored).
    event : array of bool
        True where the spell ended in an outcome, False where it was still open.
    weight : array of float, optional
        Per-spell weights (the half-life's); default 1.

    Returns
    -------
    dict
        ``log_mean``, ``log_cv``, ``se_log_mean``, ``se_log_cv`` (from the observed information;
        NaN when it is singular), ``loglik``, ``n_params``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).exponential(20.0, 4000)
    >>> r = fit_dwell("exponential", np.minimum(x, 30), x < 30)
    >>> round(float(np.exp(r["log_mean"])), 0)
    20.0
    """
    duration = np.asarray(duration, dtype=np.float64)
    event = np.asarray(event, dtype=bool)
    weight = np.ones_like(duration) if weight is None else np.asarray(weight, dtype=np.float64)
    w_events = float(weight[event].sum())
    exposure = float(np.dot(weight, duration))
    if w_events <= 0:
        return {"log_mean": math.nan, "log_cv": math.nan, "se_log_mean": math.nan, "se_log_cv": math.nan,
                "loglik": -math.inf, "n_params": 1}  # fmt: skip
    if family == "exponential":
        # Closed form: events over exposure.
        log_mean = math.log(exposure / w_events)
        ll = censored_loglik(family, [log_mean], duration, event, weight)
        return {"log_mean": log_mean, "log_cv": 0.0, "se_log_mean": 1.0 / math.sqrt(w_events), "se_log_cv": 0.0,
                "loglik": ll, "n_params": 1}  # fmt: skip
    logs = np.log(duration[event])
    start = np.array([math.log(exposure / w_events), math.log(max(float(np.std(logs)), 0.1))])

    def nll(theta):
        return -censored_loglik(family, theta, duration, event, weight)

    # BFGS, unbounded: log mean and log cv range over the whole line. (L-BFGS-B spent ms per
    # step in its own bookkeeping here, more than the likelihood itself.)
    if family == "lognormal":
        res = optimize.minimize(
            lognormal_nll_and_gradient, start, args=(duration, event, weight), jac=True, method="BFGS",
            options={"gtol": 1e-6},
        )  # fmt: skip
    else:
        res = optimize.minimize(nll, start, method="BFGS", options={"gtol": 1e-6})
    theta = res.x
    with np.errstate(all="ignore"):
        try:
            cov = np.linalg.inv(_hessian(nll, theta))
            se = np.sqrt(np.diag(cov))
        except np.linalg.LinAlgError:
            se = np.array([math.nan, math.nan])
    return {"log_mean": float(theta[0]), "log_cv": float(theta[1]), "se_log_mean": float(se[0]),
            "se_log_cv": float(se[1]), "loglik": -float(res.fun), "n_params": 2}  # fmt: skip


def aic(fit):
    """Akaike's information criterion of a fit."""
    return 2.0 * fit["n_params"] - 2.0 * fit["loglik"]


def shrink_normal(estimate, se):
    """Empirical-Bayes normal-normal shrinkage of per-cell estimates toward their precision-weighted mean.

    The between-cell variance ``tau^2`` is the DerSimonian-Laird moment estimate (zero when the
    cells differ by no more than their standard errors, which pools them completely). Cells
    without an estimate (NaN) get the pooled mean and its spread.

    Returns
    -------
    (posterior mean, posterior sd, pooled mean, tau)
    """
    estimate, se = np.asarray(estimate, dtype=float), np.asarray(se, dtype=float)
    ok = np.isfinite(estimate) & np.isfinite(se) & (se > 0)
    if not ok.any():
        return estimate, se, math.nan, math.nan
    w = 1.0 / se[ok] ** 2
    mu = float(np.dot(w, estimate[ok]) / w.sum())
    q = float(np.dot(w, (estimate[ok] - mu) ** 2))
    k = int(ok.sum())
    tau2 = max(0.0, (q - (k - 1)) / (w.sum() - (w**2).sum() / w.sum())) if k > 1 else 0.0
    se_mu = math.sqrt(1.0 / w.sum())
    post = np.full_like(estimate, mu)
    post_sd = np.full_like(estimate, math.sqrt(tau2 + se_mu**2))
    if tau2 > 0:
        prec = 1.0 / se[ok] ** 2 + 1.0 / tau2
        post[ok] = (estimate[ok] / se[ok] ** 2 + mu / tau2) / prec
        # The pooled mean is itself estimated: its error adds to the cell's (weighted by the shrinkage).
        shrink = (1.0 / tau2) / prec
        post_sd[ok] = np.sqrt(1.0 / prec + (shrink * se_mu) ** 2)
    else:
        post_sd[ok] = se_mu
    return post, post_sd, mu, math.sqrt(tau2)


def _bb_loglik(log_kappa, x, n, m):
    kappa = math.exp(log_kappa)
    a, b = m * kappa, (1.0 - m) * kappa
    return float(np.sum(special.betaln(x + a, n - x + b) - special.betaln(a, b)))


def pool_rates(x, n, prior_mean=None, max_strength=None):
    """Empirical-Bayes Beta-binomial partial pooling of one rate across cells.

    Each cell's rate has the prior Beta(m kappa, (1 - m) kappa), with ``m`` the prior mean
    (default: the pooled rate sum(x) / sum(n), or the cells' own ``prior_mean``) and ``kappa``
    the prior strength, chosen by maximising the Beta-binomial marginal likelihood. ``kappa``
    is capped at ``max_strength`` (default: the evidence behind the pooled rate, sum(n)): a
    prior may not claim more deals than it was estimated from. The posterior of each cell is
    Beta(m kappa + x, (1 - m) kappa + n - x).

    Returns
    -------
    (a, b, kappa): arrays of posterior Beta parameters, and the prior strength.

    Examples
    --------
    >>> import numpy as np
    >>> a, b, kappa = pool_rates(np.array([5, 50]), np.array([6, 200]))
    >>> bool(a[0] / (a[0] + b[0]) < 5 / 6)  # the sparse cell is pulled toward the pool
    True
    """
    x, n = np.asarray(x, dtype=float), np.asarray(n, dtype=float)
    total_n = float(n.sum())
    pooled = (float(x.sum()) + 0.5) / (total_n + 1.0)
    m = (
        np.full_like(x, pooled)
        if prior_mean is None
        else np.clip(np.asarray(prior_mean, dtype=float), 1e-4, 1 - 1e-4)
    )
    cap = max(float(max_strength if max_strength is not None else total_n), 2.0)
    if len(x) > 1 and total_n > 0:
        res = optimize.minimize_scalar(
            lambda lk: -_bb_loglik(lk, x, n, m), bounds=(math.log(0.5), math.log(cap)), method="bounded"
        )
        kappa = math.exp(res.x)
    else:
        kappa = 2.0  # one cell: a flat Beta(2m, 2(1-m)) prior, so the data speak for themselves
    return m * kappa + x, (1.0 - m) * kappa + n - x, kappa


def beta_interval(a, b, level=0.90):
    """Equal-tailed interval of Beta(a, b)."""
    lo = (1.0 - level) / 2.0
    return stats.beta.ppf(lo, a, b), stats.beta.ppf(1.0 - lo, a, b)


def _norm_pdf(y, mu, s):
    return np.exp(-0.5 * ((y - mu) / s) ** 2) / (s * math.sqrt(2.0 * math.pi))


def fit_whale(log_amount, min_deals=60):
    """A two-component lognormal mixture for a whale tail: base N(mu, s) and whales N(mu + log f, s).

    Fitted by EM; kept when it beats the single lognormal by BIC by more than 10 and gives a
    minority (p < 0.25) of deals at least 1.5x larger. Returns ``None`` or a dict with ``mu``,
    ``sigma``, ``p``, ``factor``, ``delta_bic``.
    """
    y = np.asarray(log_amount, dtype=float)
    n = len(y)
    if n < min_deals:
        return None
    mu1, s = float(np.median(y)), float(np.std(y))
    mu2 = float(np.quantile(y, 0.95))
    p = 0.05
    for _ in range(100):
        l1 = (1 - p) * _norm_pdf(y, mu1, s)
        l2 = p * _norm_pdf(y, mu2, s)
        r = l2 / np.maximum(l1 + l2, 1e-300)
        p_new = float(r.mean())
        mu1 = float(np.dot(1 - r, y) / max((1 - r).sum(), 1e-12))
        mu2 = float(np.dot(r, y) / max(r.sum(), 1e-12))
        s = float(math.sqrt((np.dot(1 - r, (y - mu1) ** 2) + np.dot(r, (y - mu2) ** 2)) / n))
        if abs(p_new - p) < 1e-6:
            p = p_new
            break
        p = p_new
    ll_mix = float(np.sum(np.log((1 - p) * _norm_pdf(y, mu1, s) + p * _norm_pdf(y, mu2, s))))
    ll_one = float(np.sum(stats.norm.logpdf(y, y.mean(), y.std())))
    delta_bic = (2 * ll_mix - 4 * math.log(n)) - (2 * ll_one - 2 * math.log(n))
    factor = math.exp(mu2 - mu1)
    if delta_bic > 10 and p < 0.25 and factor >= 1.5:
        return {"mu": mu1, "sigma": s, "p": p, "factor": factor, "delta_bic": delta_bic, "n": n}
    return None


def fit_counts(counts, expected):
    """Poisson or negative binomial for counts per cell and week, by AIC.

    ``expected`` is each week's expected count under the fitted rate and seasonality. Returns
    ``("poisson", inf)`` or ``("negative_binomial", size)`` (variance = mean + mean^2 / size)
    and the AIC difference (Poisson minus negative binomial).
    """
    counts, expected = np.asarray(counts, dtype=float), np.maximum(np.asarray(expected, dtype=float), 1e-9)
    ll_pois = float(np.sum(stats.poisson.logpmf(counts, expected)))

    def nll(log_size):
        size = math.exp(log_size)
        return -float(np.sum(stats.nbinom.logpmf(counts, size, size / (size + expected))))

    res = optimize.minimize_scalar(nll, bounds=(math.log(0.05), math.log(1e4)), method="bounded")
    delta = (-2 * ll_pois) - (2 + 2 * res.fun)
    if delta > 2.0:
        return "negative_binomial", float(math.exp(res.x)), delta
    return "poisson", math.inf, delta


def frozen(family, log_mean, log_cv):
    mean, cv = math.exp(log_mean), math.exp(log_cv)
    if family == "lognormal":
        s2 = math.log1p(cv * cv)
        return stats.lognorm(math.sqrt(s2), scale=mean * math.exp(-0.5 * s2))
    if family == "gamma":
        shape = 1.0 / (cv * cv)
        return stats.gamma(shape, scale=mean / shape)
    return stats.expon(scale=mean)
