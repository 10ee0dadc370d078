"""How many fewer trials Latin hypercube and Sobol' sampling need for the same error.

Run: ``python benchmarks/bench_sampling.py [--trials 1024] [--replications 50] [--scenarios ...]``.

For each scenario and sampler (random, lhs, sobol), ``--replications`` independent runs of
``--trials`` trials each (seeds 1000, 1001, ...) give that many estimates of the mean, P10
and P50 of annual bookings and P(hit). The standard error of each figure under a sampler
is the standard deviation of its estimates across replications (brute force: no formula
involved). The table shows ``SE(random) / SE(sampler)`` and its square, the factor of
trials saved at equal error, with a 95% interval for that factor from the F distribution
(both variances have ``replications - 1`` degrees of freedom). It also shows the mean of
the replicate-based SE the run itself reports beside the brute-force SE: their ratio should
be near 1 (honest errors).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import simcore
from simcore.analysis.convergence import headline_errors

FIGURES = ("mean", "p10", "p50", "p_hit")


def estimates(sc, model, sampling, trials, replications):
    rows, reported = [], []
    for r in range(replications):
        ds = simcore.simulate(sc, trials, 1000 + r, model=model, sampling=sampling, progress=False)
        year = ds.simcore.year_bookings().values
        target = sc.target
        rows.append([year.mean(), np.quantile(year, 0.1), np.quantile(year, 0.5), (year >= target).mean()])
        e = headline_errors(ds)["year"]
        reported.append([e[name]["se"] for name in FIGURES])
    return np.array(rows), np.array(reported)


def main(argv=None):
    from scipy.stats import f as fisher

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=1024)
    p.add_argument("--replications", type=int, default=50)
    p.add_argument("--scenarios", nargs="*", default=["fy2026", "smb", "enterprise"])
    args = p.parse_args(argv)
    print(f"load before: {os.getloadavg()[0]:.2f}; {args.replications} replications x {args.trials} trials")
    dof = args.replications - 1
    lo_f, hi_f = fisher.ppf(0.025, dof, dof), fisher.ppf(0.975, dof, dof)
    for name in args.scenarios:
        sc = simcore.load_scenario(ROOT / "scenarios" / f"{name}.toml")
        model = simcore.compile_scenario(sc)
        t0 = time.perf_counter()
        results = {
            s: estimates(sc, model, s, args.trials, args.replications) for s in ("random", "lhs", "sobol")
        }
        print(f"\n{name} ({time.perf_counter() - t0:.0f} s)")
        print(
            f"{'sampler':8} {'figure':6} {'SE brute force':>15} {'SE ratio':>9} {'trials saved':>13} "
            f"{'95% interval':>15} {'reported SE / brute':>20}"
        )
        base = results["random"][0].std(axis=0, ddof=1)
        for sampler, (rows, reported) in results.items():
            se = rows.std(axis=0, ddof=1)
            for j, figure in enumerate(FIGURES):
                ratio = base[j] / se[j] if se[j] > 0 else float("inf")
                saved = ratio**2
                interval = f"{saved / hi_f:.2f}-{saved / lo_f:.2f}" if sampler != "random" else ""
                honest = reported[:, j].mean() / se[j] if se[j] > 0 else float("nan")
                print(
                    f"{sampler:8} {figure:6} {se[j]:15.4g} {ratio:9.2f} {saved:12.2f}x {interval:>15} {honest:20.2f}"
                )
    print(f"\nload after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
