"""Capacity helpers several figures and tests share: the crossing of a success curve and its
bootstrap intervals, the K_1/2 table, growth fits, and the theory curves of Hopfield 1982 / Amit
et al. (CHN), Krotov and Hopfield 2016 and Demircigil et al. 2017. The figures that draw them
live in figures/ (one folder each)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# display names shared by the Universal Hopfield Networks figures (F4, F4b)
UHN_DATASETS = {"mnist-5k": "MNIST (5k subset)", "fashion_mnist-idx": "Fashion-MNIST"}
UHN_SEPARATIONS = ("identity", "square", "cube", "poly10", "softmax", "max")


def chn_theory(n):
    """The classical Hopfield network's capacity laws at N = n: 0.138 N (Amit, Gutfreund and
    Sompolinsky), N / (2 ln N) and N / (4 ln N) (McEliece et al.), by their legend labels."""
    return {"0.138 N (AGS)": 0.138 * n, "N / (2 ln N)": n / (2 * np.log(n)), "N / (4 ln N)": n / (4 * np.log(n))}


def bootstrap_mean_crossing(k, rates, level: float, *, reps: int = 2000, seed: int = 0):
    """Bootstrap replicates of the `level` crossing of the mean success curve, resampling the
    rows of `rates` (seeds x K: one independent pattern set per seed) with replacement."""
    rng = np.random.default_rng(seed)
    rates = np.asarray(rates, float)
    picks = rng.integers(0, rates.shape[0], size=(reps, rates.shape[0]))
    return np.array([interpolate_crossing(k, rates[p].mean(axis=0), level)[0] for p in picks])


def _fit_exponent(n, k):
    """Least-squares slope of log k on log n, its standard error (from the residuals; 0 with two
    points) and the intercept."""
    x, y = np.log(n), np.log(k)
    (slope, icpt), cov = np.polyfit(x, y, 1, cov=True) if len(n) > 2 else (np.polyfit(x, y, 1), np.zeros((2, 2)))
    return slope, math.sqrt(cov[0, 0]), icpt


def interpolate_crossing(k, rate, level: float = 0.5) -> tuple[float, int]:
    """Where a success curve falls through `level`, linear in log K between the two grid points
    that bracket it: the first i (K ascending) with rate[i] >= level > rate[i+1], and
    log K* = log K_i + (rate_i − level)/(rate_i − rate_{i+1})·(log K_{i+1} − log K_i).
    Returns (K*, i); (nan, −1) when no pair of neighbours brackets the level."""
    k, rate = np.asarray(k, float), np.asarray(rate, float)
    order = np.argsort(k)
    k, rate = k[order], rate[order]
    for i in range(len(k) - 1):
        if rate[i] >= level > rate[i + 1]:
            t = (rate[i] - level) / (rate[i] - rate[i + 1])
            return float(np.exp(np.log(k[i]) + t * (np.log(k[i + 1]) - np.log(k[i])))), int(order[i])
    return float("nan"), -1


def bootstrap_crossing(k, successes, trials, level: float = 0.5, *, reps: int = 2000, seed: int = 0):
    """Bootstrap replicates of `interpolate_crossing` resampling the starts: each K's success
    count redrawn as Binomial(trials, successes/trials) (the count of a resample with replacement
    of its starts), independently per K. Returns the replicates (nan where none brackets)."""
    rng = np.random.default_rng(seed)
    k, successes, trials = (np.asarray(a, float) for a in (k, successes, trials))
    draws = rng.binomial(trials.astype(int), successes / trials, size=(reps, len(k))) / trials
    return np.array([interpolate_crossing(k, d, level)[0] for d in draws])


def khalf_table(df, *, reps: int = 2000):
    """K_1/2 per (interaction, N) from khalf cells, with bootstrap intervals and the crossing's
    bracket, and the fitted exponent per interaction (its stderr, and a bootstrap interval of the
    slope from the same replicates)."""
    rows, boots = [], {}
    for (inter, dim), part in df.groupby(["interaction", "dim"]):
        part = part.sort_values("n_memories")
        k = part.n_memories.values.astype(float)
        trials = part.total_starts.values.astype(float)
        succ = np.round(part.success_rate.values * trials)
        khalf, i = interpolate_crossing(k, part.success_rate.values)
        reps_k = bootstrap_crossing(k, succ, trials, reps=reps, seed=int(dim))
        boots[(inter, dim)] = reps_k
        ok = reps_k[np.isfinite(reps_k)]
        rows.append({"interaction": inter, "N": int(dim), "K_half": khalf,
                     "ci_low": float(np.percentile(ok, 2.5)) if len(ok) else float("nan"),
                     "ci_high": float(np.percentile(ok, 97.5)) if len(ok) else float("nan"),
                     "boot_unbracketed": float(np.mean(~np.isfinite(reps_k))),
                     "K_below": float(part.n_memories.values[i]) if i >= 0 else float("nan"),
                     "K_above": float(part.n_memories.values[i + 1]) if i >= 0 else float("nan"),
                     "rate_below": float(part.success_rate.values[i]) if i >= 0 else float("nan"),
                     "rate_above": float(part.success_rate.values[i + 1]) if i >= 0 else float("nan"),
                     "K_grid": " ".join(str(int(x)) for x in k),
                     "starts_per_K": int(trials[0]), "max_cap_hit_rate": float(part.cap_hit_rate.max()),
                     "max_negative_rate": float(part.negative_rate.max())})
    table = pd.DataFrame(rows)
    for inter, part in table.groupby("interaction"):
        good = part[np.isfinite(part.K_half)]
        if len(good) < 2:
            continue
        slope, err, icpt = _fit_exponent(good.N.values.astype(float), good.K_half.values)
        sample = np.array([boots[(inter, n)] for n in good.N]).T  # (reps, N)
        fine = np.all(np.isfinite(sample), axis=1)
        slopes = [np.polyfit(np.log(good.N.values.astype(float)), np.log(r), 1)[0] for r in sample[fine]]
        table.loc[table.interaction == inter, ["exponent", "exponent_stderr", "exponent_boot_low",
                                               "exponent_boot_high", "intercept"]] = (
            slope, err, np.percentile(slopes, 2.5), np.percentile(slopes, 97.5), icpt)
    return table


def double_factorial(m: int) -> int:
    """m!! = m·(m−2)·(m−4)···(1 or 2), with (−1)!! = 0!! = 1."""
    return math.prod(range(m, 0, -2)) if m > 0 else 1


def krotov_hopfield_capacity(n_neurons, n: int):
    """K_max ≈ N^(n−1) / (2·(2n−3)!!·ln N): Krotov & Hopfield 2016's perfect-recovery capacity
    of F(x) = xⁿ (error probability below 1/N), with its prefactor; N = 100: 11, 360, 7,240 for
    n = 2, 3, 4."""
    n_neurons = np.asarray(n_neurons, float)
    return n_neurons ** (n - 1) / (2 * double_factorial(2 * n - 3) * np.log(n_neurons))


def rate_function(x: float) -> float:
    """I(x) = ½[(1+x)ln(1+x) + (1−x)ln(1−x)] (Demircigil et al. 2017), with 0·ln 0 = 0."""
    xlogx = lambda y: 0.0 if y == 0 else y * math.log(y)  # noqa: E731
    return 0.5 * (xlogx(1 + x) + xlogx(1 - x))


def exp_capacity_alpha(rho: float) -> float:
    """α = I(1 − 2ρ)/2: K = exp(αN) patterns are retrieved in one sweep from probes with a
    fraction ρ of flipped bits (their bound)."""
    return rate_function(1 - 2 * rho) / 2


def fit_growth(n, k):
    """Least-squares slope g of ln K on N (ln K = a + g·N), its standard error and a."""
    n, y = np.asarray(n, float), np.log(np.asarray(k, float))
    if len(n) > 2:
        (g, a), cov = np.polyfit(n, y, 1, cov=True)
        return float(g), float(math.sqrt(cov[0, 0])), float(a)
    g, a = np.polyfit(n, y, 1)
    return float(g), float("nan"), float(a)


