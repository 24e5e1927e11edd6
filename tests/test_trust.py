"""Trust boundaries (issue 21): what a results folder, an image folder or an override may do.
Each test is one numbered finding of the adversarial pass; each failed on the code before it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ambench.sweep import check_available, ConfigError, Store, resolve_cell
from ambench.sweep._migrate import migrate
from ambench.sweep._status import sweep_status
from conftest import ROOT

KEYS = [f"{i:016x}" for i in range(1, 10)]


def _row(key, **extra):
    return {"experiment": "capacity", "model": "chn", "dataset": "random", "seed": 0, "cell_key": key,
            "code_experiment": "x", "success_rate": 0.5, "n_memories": 4, **extra}


def _put(folder, key, row):
    (folder / "cells").mkdir(parents=True, exist_ok=True)
    (folder / "cells" / f"{key}.json").write_text(json.dumps(row))


def _tree(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


# 1. a cell file never chooses where the report writes
@pytest.mark.parametrize("name", ["../../../escaped", "/tmp/abs-escaped", "x" * 300, ".hidden", "a/b"])
def test_1_a_cell_file_does_not_choose_the_report_path(tmp_path, name, capsys):
    from ambench.report import write_report

    res = tmp_path / "deep" / "er" / "res"
    _put(res, KEYS[0], _row(KEYS[0], experiment=name))
    before = _tree(tmp_path)
    assert Store(res).rows() == []
    assert "is not a component name" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="no stored results"):
        write_report(res, tmp_path / "deep" / "report")
    after = set(_tree(tmp_path)) - set(before)
    assert all(p.startswith("deep/er/res/quarantine") for p in after), after
    assert not os.path.exists("/tmp/abs-escaped.csv")


# 2. an image folder is identified by its content and resolved path
def _images(root, seed, n=4, side=8):
    rng = np.random.default_rng(seed)
    (root / "a").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray((rng.random((side, side)) * 255).astype(np.uint8)).save(root / "a" / f"{i}.png")
    return root


def _folder_cell(path, **extra):
    return resolve_cell("noise", "dam-softmax", "image-folder", 0,
                        {"path": str(path), "size": 8, "n_memories": 4, "n_queries": 4, **extra})


def test_2_image_folder_cells_follow_the_images_not_the_spelling(tmp_path, monkeypatch):
    root = _images(tmp_path / "imgs", 0)
    monkeypatch.chdir(tmp_path)
    keys = {_folder_cell(p).key for p in ("imgs", "imgs/", str(root), "./imgs/../imgs")}
    assert len(keys) == 1  # one folder, four spellings: one cell
    cell = _folder_cell("imgs")
    assert cell["path"] == str(root.resolve()) and len(cell["fingerprint"]) == 16
    other = tmp_path / "elsewhere"
    other.mkdir()
    _images(other / "imgs", 1)
    monkeypatch.chdir(other)  # the same `path=imgs` from another folder: other images, another cell
    assert _folder_cell("imgs").key not in keys
    monkeypatch.chdir(tmp_path)
    img = root / "a" / "0.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(img)  # an edited image: a new cell, new data
    changed = _folder_cell("imgs")
    assert changed.key not in keys
    ds = changed.data.component.images(changed.data.params)
    assert ds.images[0].max() == 0.0
    stale = _folder_cell("imgs", fingerprint=cell["fingerprint"])  # a stored row rebuilds without reading images
    assert stale.key in keys
    with pytest.raises(ConfigError, match="are not those of fingerprint"):  # computing it asks, in one line
        check_available([stale])


# 3. migrate never replaces a current cell
def test_3_migrate_keeps_a_current_cell(tmp_path, capsys):
    from ambench.sweep._migrate import migrate_row

    old = {"experiment": "capacity", "model": "chn", "dataset": "random", "seed": 0, "cell_key": KEYS[0],
           "dim": 100, "n_memories": 4, "success_rate": 0.125}
    new, _ = migrate_row(old)
    res = tmp_path / "r"
    current = _row(new["cell_key"], success_rate=0.625)
    _put(res, new["cell_key"], current)
    _put(res, KEYS[0], old)
    assert migrate(res) == 0
    assert json.loads((res / "cells" / f"{new['cell_key']}.json").read_text())["success_rate"] == 0.625
    assert not (res / "cells" / f"{KEYS[0]}.json").exists()
    [moved] = Store(res).quarantined()
    assert json.loads(moved.read_text())["success_rate"] == 0.125
    out = capsys.readouterr().out
    assert "0 cells migrated" in out and "current cell is kept" in out


# 4. status and report act only on ambench's own folders and files
def test_4_status_and_report_touch_only_their_own_files(tmp_path):
    from ambench.report._tables import load_results

    res = tmp_path / "res"
    _put(res, KEYS[0], _row(KEYS[0]))
    (res / "sweep.json").write_text(json.dumps({"name": "s", "cells": [KEYS[0]]}))
    web = tmp_path / "webapp" / "static" / "cells"  # another program's cells/ folder
    web.mkdir(parents=True)
    (web / "app.json").write_text("[1, 2]")
    (web / f"{KEYS[1]}.json").write_text("not json")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / f"{KEYS[2]}.json").write_text("[]")
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "sweep.json").write_text(json.dumps({"name": "l", "cells": []}))
    (linked / "cells").symlink_to(outside)
    (res / "cells" / "notes.json").write_text("{}")  # not a key-named file: not ambench's
    rows = sweep_status(tmp_path)
    assert [r["results"] for r in rows] == [str(res)]  # the web app's folder and the link are not results
    assert len(load_results(tmp_path)) == 1
    for p in (web / "app.json", web / f"{KEYS[1]}.json", outside / f"{KEYS[2]}.json", res / "cells" / "notes.json"):
        assert p.exists()
    assert not (tmp_path / "webapp" / "static" / "quarantine").exists() and not (linked / "quarantine").exists()
    with pytest.raises(FileNotFoundError):
        sweep_status(linked)  # its cells/ is a link out: not followed, nothing moved
    assert (outside / f"{KEYS[2]}.json").exists() and not (outside.parent / "linked" / "quarantine").exists()


# 5. stored metrics are validated against the experiment's declared metrics
@pytest.mark.parametrize("value", ["abc", 7.5, -0.1, True, [0.5]])
def test_5_a_metric_of_the_wrong_type_or_range_is_quarantined(tmp_path, value, capsys):
    res = tmp_path / "r"
    _put(res, KEYS[0], _row(KEYS[0], success_rate=value))
    _put(res, KEYS[1], _row(KEYS[1], success_rate=None, capacity=12))  # undefined (null) is a value
    assert Store(res).done_keys() == {KEYS[1]}
    assert "metric success_rate" in capsys.readouterr().err
    assert len(Store(res).quarantined()) == 1


# 8. a read-only archive with one bad cell stays usable
def test_8_read_only_archive_reports_instead_of_quarantining(tmp_path, capsys, monkeypatch):
    import errno

    from ambench.report import write_report
    from ambench.sweep import _store

    res = tmp_path / "archive"
    _put(res, KEYS[0], _row(KEYS[0]))
    _put(res, KEYS[1], _row(KEYS[1], success_rate="abc"))
    (res / "sweep.json").write_text(json.dumps({"name": "a", "cells": KEYS[:2]}))

    def read_only(*args, **kwargs):  # what a read-only mount answers (root ignores file modes)
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(_store.os, "replace", read_only)
    monkeypatch.setattr(_store.Path, "mkdir", read_only)
    [row] = sweep_status(res)
    assert (row["done"], row["missing"]) == (1, 1)
    err = capsys.readouterr().err
    assert err.count("not quarantined: Read-only file system") == 1 and "counts as not stored" in err
    monkeypatch.undo()
    monkeypatch.setattr(_store.os, "replace", read_only)
    paths = write_report(res, tmp_path / "report")
    assert (tmp_path / "report" / "report.md") in paths
    assert not (res / "quarantine").exists()


# 9. tracebacks become one line
def test_9_bad_manifest_list_cell_and_deep_override_are_one_line(tmp_path):
    res = tmp_path / "r"
    _put(res, KEYS[0], _row(KEYS[0]))
    (res / "sweep.json").write_text(json.dumps({"cells": 5, "jobs": 3}))
    [row] = sweep_status(res)
    assert row["done"] == 1
    (res / "cells" / f"{KEYS[1]}.json").write_text("[1, 2]")
    assert migrate(res) == 0  # the list is reported, not a traceback
    from ambench.sweep._spec import parse_override

    with pytest.raises(ConfigError, match="nested deeper than 50"):
        parse_override("grid.dim=" + "[" * 10_000 + "]" * 10_000)
    with pytest.raises(ConfigError, match="given twice"):
        parse_override("grid={dim: [1], dim: [2]}")


def test_9_corrupt_images_are_one_line(tmp_path):
    root = _images(tmp_path / "imgs", 0)
    for name, data in (("empty.png", b""), ("junk.png", b"not an image"),
                       ("cut.png", (root / "a" / "0.png").read_bytes()[:40])):
        (root / "a" / name).write_bytes(data)
        with pytest.raises(ConfigError, match=f"{name} is not a readable PNG/JPEG image"):
            check_available([_folder_cell(root)])  # asked before the cell is computed
        (root / "a" / name).unlink()


# 10. the checks of a parameter hold for defaults; a named profile must exist
def test_10_default_noise_kind_is_checked_and_profile_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="fraction in \\[0, 1\\]"):
        resolve_cell("convergence", "chn", "random", 0, {"noise_level": 1.5})  # default noise_kind flip
    from ambench.sweep._spec import load_sweep

    f = tmp_path / "s.yaml"
    f.write_text("name: s\nexperiment: capacity\nmodels: [chn]\ndatasets: [random]\nseeds: [0]\n"
                 "grid: {dim: [16], n_memories: [2], n_queries: [2]}\nexecutor: inline\n"
                 f"results: {tmp_path / 'r'}\nslurm: {{profile: slurm/no-such-profile.yaml}}\n")
    with pytest.raises(ConfigError, match="no-such-profile.yaml not found"):
        load_sweep(f)


# 11. confinement is the same for every path
def test_11_run_out_wandb_dir_and_cells_per_job_are_confined(tmp_path, capsys, monkeypatch):
    from ambench import cli
    from ambench.sweep._spec import load_sweep

    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "capacity", "--model", "chn", "--dataset", "random", "--out", "../x"]) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "leaves the current folder" in lines[0] and not (tmp_path.parent / "x").exists()
    base = ("name: s\nexperiment: capacity\nmodels: [chn]\ndatasets: [random]\nseeds: [0]\n"
            f"grid: {{dim: [16], n_memories: [2], n_queries: [2]}}\nresults: {tmp_path / 'r'}\n")
    for extra, msg in (("wandb: {dir: ../x}\n", "leaves the current folder"),
                       ("slurm: {cells_per_job: true}\n", "must be a positive integer"),
                       ("wandb: 5\n", "must be a mapping")):
        f = tmp_path / "s.yaml"
        f.write_text(base + extra)
        with pytest.raises(ConfigError, match=msg):
            load_sweep(f)


# 12. a broken plugin disables itself, not ambench
def test_12_a_broken_plugin_is_one_line_and_the_rest_still_works(monkeypatch, capsys):
    import importlib.metadata

    from ambench.params import Component, Params, Registry

    class P(Params):
        pass

    reg = Registry("model")
    reg.discover = lambda: reg.register(Component("model", "chn", P, "built in", "v1"))

    class EP:
        group = "ambench.models"

        def __init__(self, name, load):
            self.name, self.value, self.load = name, f"lab_{name}:x", load

    def broken():
        raise ImportError("no module named lab_internal")

    def clash():
        reg.register(Component("model", "mine", P, "fine so far", "v1"))
        reg.register(Component("model", "chn", P, "a second chn", "v2"))

    def not_a_class():
        odd = Component("model", "odd", P, "bad Params", "v1")
        object.__setattr__(odd, "params", "not a class")  # as a plugin's own spec object can hold
        reg.register(odd)

    eps = [EP("broken", broken), EP("clash", clash), EP("odd", not_a_class)]
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: eps if group == "ambench.models" else [])
    assert list(reg) == ["chn"] and reg["chn"].version == "v1"  # the built-in model still works
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and all(ln.startswith("plugin '") and "is disabled" in ln for ln in lines)
    assert "'broken'" in lines[0] and "'clash'" in lines[1] and "registered twice" in lines[1]
    assert "'odd'" in lines[2] and "not a class of parameters" in lines[2]


# 7. a string from the store reaching matplotlib is text, never mathtext
def test_7_mathtext_in_a_stored_string_does_not_stop_the_report(tmp_path):
    from ambench.report import write_report

    res = tmp_path / "r"
    for i, (path, k) in enumerate([(p, k) for p in (r"/lab/$\undefinedmacro{x}$", r"/lab/$x^$") for k in (2, 4)]):
        key = KEYS[i]
        _put(res, key, _row(key, dataset="image-folder", path=path, n_memories=k, success_rate=0.25 * (i % 3)))
    paths = write_report(res, tmp_path / "report")
    assert (tmp_path / "report" / "capacity.png") in paths and (tmp_path / "report" / "capacity.png").stat().st_size


# 6. memory is estimated from every array a cell builds, refused in one line, the limit raisable
def test_6_memory_counts_queries_starts_and_float64_and_the_limit_can_be_raised(monkeypatch):
    from ambench.protocol import memory_estimate

    monkeypatch.delenv("AMBENCH_MAX_MEMORY_GB", raising=False)
    with pytest.raises(ConfigError, match="similarities M×K float32") as err:  # 10^6 queries × 10^7 memories
        resolve_cell("noise", "dam-softmax", "random", 0, {"n_memories": 10_000_000, "dim": 100,
                                                          "n_queries": 1_000_000})
    assert "\n" not in str(err.value) and "AMBENCH_MAX_MEMORY_GB" in str(err.value)
    with pytest.raises(ConfigError, match="queries/starts M×N"):  # 10^6 starts at D = 10^5: 800 GB of states
        resolve_cell("attractors", "chn", "random", 0, {"n_starts": 1_000_000, "dim": 100_000})
    monkeypatch.setenv("AMBENCH_MAX_MEMORY_GB", "1000000")
    cell = resolve_cell("attractors", "chn", "random", 0, {"n_starts": 1_000_000, "dim": 100_000})
    parts = memory_estimate(cell)
    assert parts["queries/starts M×N float32 ×2"] == 4 * 2 * 1_000_000 * 100_000
    assert parts["random draw K×N float64 ×2"] == 8 * 2 * cell["n_memories"] * 100_000
    monkeypatch.setenv("AMBENCH_MAX_MEMORY_GB", "0.000001")  # and lowered: a small cell is refused too
    with pytest.raises(ConfigError, match="AMBENCH_MAX_MEMORY_GB=0.000001"):
        resolve_cell("capacity", "chn", "random", 0, {"n_memories": 4, "dim": 16, "n_queries": 4})


# 9 (results.parquet a folder) and 13 (large inputs refused at once; orphans of killed writers removed)
def test_9_results_parquet_that_is_a_folder_is_one_line(tmp_path):
    res = tmp_path / "r"
    _put(res, KEYS[0], _row(KEYS[0]))
    (res / "results.parquet").mkdir()
    with pytest.raises(PermissionError, match="not a regular file"):
        Store(res).check_writable()
    with pytest.raises(ValueError, match="not a regular file"):
        Store(res).consolidate()


def test_13_large_inputs_are_refused_in_a_second_and_orphans_removed(tmp_path):
    import time

    from ambench.sweep import parse_sets
    from ambench.sweep._spec import load_sweep, parse_override
    from ambench.sweep._store import atomic_write_json, pid_alive

    start = time.perf_counter()
    f = tmp_path / "big.yaml"
    f.write_text("name: big\nexperiment: capacity\nmodels: [chn]\ndatasets: [random]\nseeds: [0]\n"
                 "grid: {n_memories: [" + ",".join(map(str, range(1, 1_000_001))) + "]}\n")
    with pytest.raises(ConfigError, match="more than 1,000,000"):
        load_sweep(f)
    with pytest.raises(ConfigError, match="more than 1,000,000"):
        parse_override("grid.n_memories=[" + ",".join(map(str, range(1, 1_000_001))) + "]")
    with pytest.raises(ConfigError, match="more than 100,000 values"):
        parse_sets(["n_memories=" + ",".join(map(str, range(1, 200_001)))])
    assert time.perf_counter() - start < 5
    res = tmp_path / "r"
    atomic_write_json(res / "cells" / f"{KEYS[0]}.json", _row(KEYS[0]))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    assert not pid_alive(pid)
    from ambench.sweep._store import _HOST_TOKEN

    orphan = res / "cells" / f".{KEYS[1]}.json.pid{pid}@{_HOST_TOKEN}.ab12cd34.tmp"
    live = res / "cells" / f".{KEYS[2]}.json.pid{os.getpid()}@{_HOST_TOKEN}.ab12cd35.tmp"
    foreign = res / "cells" / ".someone-elses.tmp"
    for p in (orphan, live, foreign):
        p.write_text("{")
    assert Store(res).consolidate() == 1
    assert not orphan.exists() and live.exists() and foreign.exists()


@pytest.mark.slow
def test_13_sigterm_rebuilds_the_table_before_the_sweep_ends(tmp_path):
    import signal
    import time

    import pandas as pd

    sweep = tmp_path / "t.yaml"
    sweep.write_text("name: t\nexperiment: capacity\nmodels: [chn]\ndatasets: [random]\nseeds: [0]\ngrid:\n"
                     "  - {dim: [32], n_memories: [2], n_queries: [8]}\n"
                     "  - {dim: [3000], n_memories: [300], n_queries: [1000]}\n")
    out = tmp_path / "r"
    env = {**os.environ, "WANDB_MODE": "disabled", "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "ambench.cli", "sweep", str(sweep), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    deadline = time.monotonic() + 180
    while not (list((out / "cells").glob("*.json")) and list((out / "running").glob("*.json"))):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr
    assert len(pd.read_parquet(out / "results.parquet")) == 1  # the stored cell is in the table


def test_9_a_sweep_over_a_manifest_of_wrong_types_rewrites_it(tmp_path):
    from ambench.sweep._spec import load_sweep
    from ambench.sweep.driver import write_manifest

    f = tmp_path / "s.yaml"
    f.write_text("name: s\nexperiment: capacity\nmodels: [chn]\ndatasets: [random]\nseeds: [0]\n"
                 f"grid: {{dim: [16], n_memories: [2], n_queries: [2]}}\nresults: {tmp_path / 'r'}\n")
    sweep = load_sweep(f)
    sweep.results.mkdir(parents=True)
    (sweep.results / "sweep.json").write_text(json.dumps({"cells": 5, "jobs": 3}))
    write_manifest(sweep, [KEYS[0]], ["77"])
    info = json.loads((sweep.results / "sweep.json").read_text())
    assert info["cells"] == [KEYS[0]] and info["jobs"] == ["77"]


def test_1_a_report_never_writes_through_a_link(tmp_path):
    from ambench.report import write_report

    res = tmp_path / "r"
    _put(res, KEYS[0], _row(KEYS[0]))
    out = tmp_path / "report"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (out / "rows.csv").symlink_to(victim)
    with pytest.raises(PermissionError, match="never writes through a link"):
        write_report(res, out)
    assert victim.read_text() == "keep"


def test_declared_metrics_are_read_from_the_experiments_folder_the_package_finds(tmp_path, monkeypatch):
    """The store finds experiment files through `_resources.experiments_dir` (a wheel's shipped
    folder too), not through the source tree's layout."""
    from ambench.sweep import _store

    assert _store.declared_metrics("capacity")["success_rate"].range == (0.0, 1.0)
    folder = tmp_path / "shipped"
    folder.mkdir()
    (folder / "capacity.py").write_text('register_experiment("capacity", main_metric="hits_rate")\n')
    monkeypatch.setenv("AMBENCH_EXPERIMENTS", str(folder))
    assert {n: m.range for n, m in _store.declared_metrics("capacity").items()} == {"hits_rate": (0.0, 1.0)}


# 5, for experiments outside the experiments folder: a plugin's (or one registered at run time)
# declared metrics are read from its registry entry
@pytest.fixture
def plugin_experiment(monkeypatch):
    """The plugin example's `lab_overlap` (metrics=: mean_overlap in [-1, 1], success_rate a
    rate) registered as its entry point would, and removed after."""
    import sys

    from ambench._experiment import EXPERIMENTS

    from conftest import ROOT

    monkeypatch.syspath_prepend(str(ROOT / "tests" / "plugin_example" / "src"))
    EXPERIMENTS.keys()  # the registry is discovered first, as in a run
    before = dict(EXPERIMENTS.items)
    import importlib

    importlib.import_module("ambench_lab_plugin.overlap")
    yield EXPERIMENTS["lab_overlap"]
    EXPERIMENTS.items = before
    for name in [m for m in sys.modules if m.startswith("ambench_lab_plugin")]:
        sys.modules.pop(name)


@pytest.mark.parametrize("value, ok", [(0.5, True), (-0.25, True), (7.5, False), (-1.5, False), ("abc", False)])
def test_5_a_plugin_experiments_declared_metrics_are_validated(tmp_path, plugin_experiment, value, ok, capsys):
    res = tmp_path / "r"
    row = _row(KEYS[0], experiment="lab_overlap", mean_overlap=value, success_rate=0.5)
    _put(res, KEYS[0], row)
    assert Store(res).done_keys() == ({KEYS[0]} if ok else set())
    assert ("metric mean_overlap" in capsys.readouterr().err) is not ok
    _put(res, KEYS[1], _row(KEYS[1], experiment="lab_overlap", mean_overlap=0.1, success_rate=1.5))
    assert KEYS[1] not in Store(res).done_keys()  # the declared rate, too


def test_5_an_experiment_registered_at_run_time_without_metrics_bounds_its_rates(tmp_path, monkeypatch, capsys):
    """No `metrics=`: its main and shown metrics are numbers, a rate in [0, 1], `metric_range`
    bounding the main one, as for a file in the experiments folder."""
    import importlib
    import sys

    from ambench._experiment import EXPERIMENTS
    from ambench.sweep import _store

    (tmp_path / "lab_runtime.py").write_text(
        "import ambench\nfrom ambench.protocol import RetrievalParams\n"
        "ambench.register_experiment('lab_runtime', params=RetrievalParams, doc='d', run=lambda cell, progress: {},\n"
        "    main_metric='score', x_axis='n_queries', metric_range=(0, 10), shown_metrics=('hit_rate',))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    EXPERIMENTS.keys()
    before = dict(EXPERIMENTS.items)
    try:
        assert _store.declared_metrics("lab_runtime") == {}  # not registered yet: nothing to check against
        importlib.import_module("lab_runtime")
        assert {n: m.range for n, m in _store.declared_metrics("lab_runtime").items()} == {"score": (0, 10), "hit_rate": (0.0, 1.0)}
        res = tmp_path / "r"
        for key, extra in ((KEYS[0], {"score": 3, "hit_rate": 0.5}), (KEYS[1], {"score": 11}),
                           (KEYS[2], {"hit_rate": 2.0}), (KEYS[3], {"score": "x"})):
            _put(res, key, _row(key, experiment="lab_runtime", **extra))
        assert Store(res).done_keys() == {KEYS[0]}
    finally:
        EXPERIMENTS.items = before
        sys.modules.pop("lab_runtime", None)


def test_declared_metrics_are_read_without_importing_the_experiment(tmp_path, monkeypatch):
    """`metrics=` is read from the file (the shared RETRIEVAL_METRICS, rate/count/series/Metric,
    comprehensions) and is then the whole declaration: type and range of every stored metric."""
    from ambench import RETRIEVAL_METRICS
    from ambench._experiment import experiment
    from ambench.sweep import _store

    for name in ("capacity", "noise", "khalf", "onestep", "throughput", "basins"):
        assert tuple(_store.declared_metrics(name).values()) == experiment(name).metrics  # the same as registered
    assert set(m.name for m in RETRIEVAL_METRICS) <= set(_store.declared_metrics("noise"))
    (tmp_path / "lab.py").write_text(
        "import ambench\nambench.register_experiment('lab', main_metric='hits', metrics=[ambench.count('hits', 'h'), "
        "*(ambench.rate(f'{x}_rate', x) for x in ('a', 'b'))])\n")
    monkeypatch.setenv("AMBENCH_EXPERIMENTS", str(tmp_path))
    declared = _store.declared_metrics("lab")
    assert {n: (m.type, m.range) for n, m in declared.items()} == {
        "hits": ("int", (0.0, None)), "a_rate": ("float", (0.0, 1.0)), "b_rate": ("float", (0.0, 1.0))}
    row = {"experiment": "lab", "hits": 2.5}
    assert _store.metric_error(row) == "metric hits is not an integer (got 2.5)"
    assert _store.metric_error({"experiment": "lab", "hits": 3, "a_rate": 1.5}).startswith("metric a_rate=1.5 is outside")
    (tmp_path / "lab.py").write_text("import os\nregister_experiment('lab', main_metric='x_rate', "
                                     "metrics=[os.system('false')])\n")
    assert set(_store.declared_metrics("lab")) == {"x_rate"}  # anything but the helpers: not evaluated, the old rule


def test_the_committed_smoke_cells_store_exactly_declared_metrics():
    """Every metric column of every committed smoke cell is declared by its experiment, with its
    type and range (the store quarantines a row that breaks them)."""
    from ambench import _facts
    from ambench.sweep import _store

    seen = 0
    for path in sorted((ROOT / "results" / "smoke").glob("*/cells/*.json")):
        row = json.loads(path.read_text())
        declared = _store.declared_metrics(row["experiment"])
        metrics = {k for k in row if k not in _facts.IDENTITY and not _facts.is_provenance(k)
                   and k.split(".", 1)[0] not in _facts.KINDS}
        assert metrics <= set(declared), (path, metrics - set(declared))
        assert _store.metric_error(row) is None, path
        seen += 1
    assert seen > 100
