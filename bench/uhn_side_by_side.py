"""The UHN capacity study side by side: the authors' torch code against an ambench sweep, same work.

One command prints the table (and writes it as JSON + markdown under --out, /tmp by default):

    PYTHONPATH=src python bench/uhn_side_by_side.py --authors AUTHORS --torch-python TORCH_PY

AUTHORS is the authors' checkout of Millidge et al. 2022 (github:BerenMillidge/
Theory_Associative_Memory): a folder holding their functions.py, or the bare git directory the
`fetch` tool returns (its HEAD is unpacked to a temporary folder). TORCH_PY is a Python with
torch, numpy and matplotlib (their module imports pyplot). Their code is imported at run time
by bench/uhn_reference_worker.py; nothing of theirs is copied into the repository.

The work: for every similarity × separation × K × corruption × seed, K stored mnist-5k images
(ambench's block `seed` of its fixed permutation, handed to both sides as the same float32
array), every stored image queried once (their loop; ambench `n_queries` ≥ K), success =
squared error ≤ threshold (their `ERROR_THRESHOLD`, ambench `criterion: threshold`).
Corruptions: clamp(|x + N(0, σ)|, 0, 1) (their `gaussian_perturb_image`, ambench
`gaussian-abs`) and the bottom half of the rows set to 0 (their `mask_continuous_img(x, 0.5)`,
ambench `mask_rows` 0.5). The reference runs single-threaded (torch.set_num_threads(1)); ambench
as it runs by default (`ambench sweep`, one process). Sides alternate (reference, ambench cold,
ambench warm, reference, ...) `--rounds` times; each ambench cold run gets an empty compilation
cache (AMBENCH_CACHE and AMBENCH_COMPILATION_CACHE in a fresh temporary folder), the warm run
reuses it. Wall and CPU seconds (getrusage of the child) per run; the programs ambench compiled
(its own count). Agreement: settings whose queries are deterministic (mask_rows) must give the
same rate; noisy ones (independent noise draws) within 2 binomial standard errors of the
difference (sqrt(p₁(1−p₁)/n + p₂(1−p₂)/n), floored at one query's worth, 1/n).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import io
import tempfile
from pathlib import Path

import numpy as np

from ambench.study_bench import run_timed, timed_sweep

HERE = Path(__file__).resolve().parent
SIMILARITIES = ["dot", "raw-dot", "euclidean", "manhattan"]
SEPARATIONS = ["identity", "square", "cube", "quartic", "poly10", "sqrt", "log", "softmax", "max"]
KS = [2, 5, 10, 20, 50, 100, 200, 300, 500, 700, 1000]
SIGMAS = [0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.5]


def _csv(kind):
    return lambda text: [kind(x) for x in text.split(",") if x]


def settings(args) -> list[dict]:
    """Every (similarity, separation, K, corruption, level, seed) both sides compute."""
    cases = [(k, "gaussian-abs", 0.5) for k in args.ks] + [(k, "mask_rows", 0.5) for k in args.ks]
    cases += [(args.noise_k, "gaussian-abs", s) for s in args.sigmas if (args.noise_k, "gaussian-abs", s) not in cases]
    return [{"similarity": sim, "separation": sep, "n_memories": k, "noise_kind": kind, "noise_level": level,
             "seed": seed, "threshold": args.threshold}
            for sim in args.similarities for sep in args.separations for k, kind, level in cases for seed in args.seeds]


def authors_dir(path: str, tmp: Path) -> Path:
    """A folder with their functions.py: `path` itself, or the HEAD of a bare git directory."""
    p = Path(path)
    if (p / "functions.py").exists():
        return p
    if (p / "HEAD").exists() or (p / "objects").is_dir():
        tar = subprocess.run(["git", "--git-dir", str(p), "archive", "HEAD"], capture_output=True, check=True).stdout
        tarfile.open(fileobj=io.BytesIO(tar)).extractall(tmp / "authors", filter="data")
        if (tmp / "authors" / "functions.py").exists():
            return tmp / "authors"
    raise ValueError(f"--authors {path}: no functions.py there (pass their checkout or the fetched git directory)")


def write_blocks(rows: list[dict], file: Path) -> None:
    """The stored images of every (seed, K), as ambench's capacity cell chooses them."""
    from ambench import data

    ds = data.load_dataset("mnist-5k")
    arrays = {}
    for s in rows:
        name = f"seed{s['seed']}_k{s['n_memories']}"
        if name not in arrays:
            idx, _ = data.sample_block(ds, s["n_memories"], seed=s["seed"])
            arrays[name] = ds.images[idx].astype(np.float32)
    np.savez(file, **arrays)


def sweep_yaml(args) -> str:
    """The ambench sweep of the same settings (one grid entry per corruption case)."""
    common = (f"    similarity: {json.dumps(args.similarities)}\n    separation: {json.dumps(args.separations)}\n"
              f"    criterion: [threshold]\n    threshold: [{args.threshold}]\n    n_queries: [{max(args.ks + [args.noise_k])}]\n")
    sigmas = [s for s in args.sigmas if not (s == 0.5 and args.noise_k in args.ks)]  # that cell is in the first entry
    entries = [f"  - n_memories: {json.dumps(args.ks)}\n    noise_kind: [gaussian-abs]\n    noise_level: [0.5]\n",
               f"  - n_memories: {json.dumps(args.ks)}\n    noise_kind: [mask_rows]\n    noise_level: [0.5]\n",
               f"  - n_memories: [{args.noise_k}]\n    noise_kind: [gaussian-abs]\n    noise_level: {json.dumps(sigmas)}\n"] * bool(sigmas)
    return ("name: uhn-side-by-side\nexperiment: capacity\nmodels: [uhn]\ndatasets: [mnist-5k]\n"
            f"seeds: {json.dumps(args.seeds)}\ngrid:\n" + "".join(e + common for e in entries))


def run_reference(args, authors: Path, job: Path, blocks: Path) -> dict:
    run, wall, cpu = run_timed([args.torch_python, str(HERE / "uhn_reference_worker.py"), str(authors), str(job), str(blocks)], tail=2000)
    out = json.loads(run.stdout.strip().splitlines()[-1])
    return {"wall_s": wall, "cpu_s": cpu, "torch": out["torch"], "threads": out["threads"], "results": out["results"]}


def run_ambench(sweep: Path, out: Path, cache: Path) -> dict:
    import pandas as pd

    timing = timed_sweep(str(sweep), out, cache, [], smoke=False)
    df = pd.read_parquet(out / "results.parquet")
    rows = [{"similarity": r["model.similarity"], "separation": r["model.separation"],
             "n_memories": int(r["experiment.n_memories"]), "noise_kind": r["experiment.noise_kind"],
             "noise_level": float(r["experiment.noise_level"]), "seed": int(r["seed"]),
             "rate": float(r["threshold_rate"]), "scored": int(r["queries_scored"])} for _, r in df.iterrows()]
    return {**timing, "results": rows}


def key(r: dict) -> tuple:
    return (r["similarity"], r["separation"], r["n_memories"], r["noise_kind"], round(r["noise_level"], 6), r["seed"])


def agreement(ref: list[dict], amb: list[dict]) -> dict:
    """Deterministic settings identical; noisy ones within 2 s.e. of the difference of two rates."""
    a = {key(r): r for r in amb}
    det = det_same = noisy = noisy_within = 0
    worst = []
    for r in ref:
        b = a.get(key(r))
        if b is None:
            raise RuntimeError(f"ambench has no result for {key(r)}")
        n, p, q = r["n_memories"], r["rate"], b["rate"]
        if b["scored"] != n:
            raise RuntimeError(f"ambench scored {b['scored']} queries for {key(r)}, the reference {n}")
        if r["noise_kind"] == "mask_rows":
            det += 1
            det_same += abs(p - q) < 0.5 / n
            if abs(p - q) >= 0.5 / n:
                worst.append({"setting": key(r), "reference": p, "ambench": q})
        else:
            noisy += 1
            se = max(np.sqrt(p * (1 - p) / n + q * (1 - q) / n), 1.0 / n)
            noisy_within += abs(p - q) <= 2 * se
    return {"deterministic": det, "deterministic_identical": det_same, "noisy": noisy,
            "noisy_within_2se": noisy_within, "deterministic_differing": worst[:20]}


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def table(summary: dict) -> str:
    lines = [f"UHN capacity study side by side ({summary['settings']} settings, {summary['queries']} queries; "
             f"torch {summary['torch']}, {summary['threads']} thread; ambench {summary['ambench']})", "",
             "| run | round | wall s | CPU s | programs compiled (from cache) | load avg before |",
             "|---|---|---|---|---|---|"]
    for r in summary["runs"]:
        progs = "" if r.get("programs") is None else f"{r['programs']} ({r['cache_hits']})"
        lines.append(f"| {r['side']} | {r['round']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {progs} | {r['load']} |")
    lines += ["", "| ratio (reference / ambench), median over rounds | wall | CPU |", "|---|---|---|"]
    for side in ("ambench cold", "ambench warm"):
        lines.append(f"| {side} | {summary['ratios'][side]['wall']:.2f}x | {summary['ratios'][side]['cpu']:.2f}x |")
    ag = summary["agreement"]
    lines += ["", f"agreement: {ag['deterministic_identical']} of {ag['deterministic']} deterministic settings identical; "
              f"{ag['noisy_within_2se']} of {ag['noisy']} noisy settings within 2 binomial s.e."]
    return "\n".join(lines)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--authors", required=True, help="their checkout (folder with functions.py) or fetched git dir")
    p.add_argument("--torch-python", required=True, help="a Python with torch, numpy, matplotlib")
    p.add_argument("--out", default=None, help="folder for side_by_side.json / .md (default: a new /tmp folder)")
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds (reference, ambench cold, warm)")
    p.add_argument("--seeds", type=_csv(int), default=[0, 1, 2, 3, 4])
    p.add_argument("--similarities", type=_csv(str), default=SIMILARITIES)
    p.add_argument("--separations", type=_csv(str), default=SEPARATIONS)
    p.add_argument("--ks", type=_csv(int), default=KS)
    p.add_argument("--sigmas", type=_csv(float), default=SIGMAS, help="noise sweep σ at K = --noise-k")
    p.add_argument("--noise-k", type=int, default=100)
    p.add_argument("--threshold", type=float, default=60.0, help="squared-error threshold (their code: 60)")
    p.add_argument("--softmax-beta", type=float, default=1000.0)
    args = p.parse_args(argv)
    bad = [s for s in args.similarities if s not in SIMILARITIES] + [s for s in args.separations if s not in SEPARATIONS]
    if bad:
        p.error(f"unknown similarity/separation {bad}; choose from {SIMILARITIES} and {SEPARATIONS}")
    if args.softmax_beta != 1000.0:
        p.error("--softmax-beta: the ambench side uses uhn's default beta 1000; other values are not wired")
    out = Path(args.out or tempfile.mkdtemp(prefix="uhn-side-by-side-"))
    if out.resolve().is_relative_to(Path.cwd().resolve() / "results"):
        p.error("--out: results go to /tmp, not into results/")
    out.mkdir(parents=True, exist_ok=True)
    import ambench

    rows = settings(args)
    with tempfile.TemporaryDirectory(prefix="uhn-sbs-") as tmp_:
        tmp = Path(tmp_)
        authors = authors_dir(args.authors, tmp)
        job, blocks, sweep = tmp / "job.json", tmp / "blocks.npz", tmp / "sweep.yaml"
        job.write_text(json.dumps({"settings": rows, "softmax_beta": args.softmax_beta}))
        write_blocks(rows, blocks)
        sweep.write_text(sweep_yaml(args))
        runs, ref_results, amb_results = [], None, None
        for rnd in range(1, args.rounds + 1):
            load = load_average()
            ref = run_reference(args, authors, job, blocks)
            ref_results = ref.pop("results")
            runs.append({"side": "reference", "round": rnd, "load": load} | ref)
            print(f"round {rnd}: reference {ref['wall_s']:.1f} s wall / {ref['cpu_s']:.1f} s CPU", flush=True)
            cache = tmp / f"cache{rnd}"
            for side in ("ambench cold", "ambench warm"):
                load = load_average()
                amb = run_ambench(sweep, tmp / f"out-{rnd}-{side.split()[1]}", cache)
                amb_results = amb.pop("results")
                runs.append({"side": side, "round": rnd, "load": load} | amb)
                print(f"round {rnd}: {side} {amb['wall_s']:.1f} s wall / {amb['cpu_s']:.1f} s CPU, "
                      f"{amb['programs']} programs ({amb['cache_hits']} from cache)", flush=True)
        (out / "sweep.yaml").write_text(sweep.read_text())
    med = lambda side, f: float(np.median([r[f] for r in runs if r["side"] == side]))  # noqa: E731
    summary = {"settings": len(rows), "queries": sum(r["n_memories"] for r in rows), "torch": runs[0]["torch"],
               "threads": runs[0]["threads"], "ambench": ambench.__version__, "args": vars(args), "runs": runs,
               "ratios": {s: {"wall": med("reference", "wall_s") / med(s, "wall_s"),
                              "cpu": med("reference", "cpu_s") / med(s, "cpu_s")} for s in ("ambench cold", "ambench warm")},
               "agreement": agreement(ref_results, amb_results), "reference": ref_results, "ambench_results": amb_results}
    text = table(summary)
    (out / "side_by_side.json").write_text(json.dumps(summary, indent=1, default=str))
    (out / "side_by_side.md").write_text(text + "\n")
    print(text)
    print(f"\nwritten: {out / 'side_by_side.json'}, {out / 'side_by_side.md'}")
    return summary


if __name__ == "__main__":
    try:
        main()
    except (ValueError, RuntimeError, FileNotFoundError) as error:  # a bad path or a failed child: one line
        sys.exit(f"uhn_side_by_side: {error}")
