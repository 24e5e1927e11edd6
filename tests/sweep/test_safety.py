"""Input that could run code, escape the results folder or exhaust the machine is refused before
anything is dispatched, in one line naming the file, the key and the fix (sweep/_safety.py)."""

import os
import stat
import time

import pytest

from ambench import cli
from ambench.sweep import ConfigError
from ambench.sweep._safety import Profile, check_trusted, load_yaml, private_folder, validate_profile
from ambench.sweep._spec import load_profile, load_sweep, submitit_parameters
from conftest import ROOT

GOOD = """name: t
experiment: capacity
models: [chn]
datasets: [random]
seeds: [0]
grid: {dim: [32], n_memories: [2, 4], n_queries: [8]}
"""


def _sweep(tmp_path, text=GOOD, name="sweep.yaml"):
    path = tmp_path / name
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    return path


def _one_line_error(capsys, args):
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


SWEEP_MISTAKES = {
    "newline in name": (GOOD.replace("name: t", 'name: "t\\ntouch /tmp/pwned"'), "name: 't\\ntouch"),
    "name with a space": (GOOD.replace("name: t", "name: my sweep"), "not a safe name"),
    "name starting with a dot": (GOOD.replace("name: t", "name: .hidden"), "not a safe name"),
    "name too long": (GOOD.replace("name: t", "name: " + "x" * 65), "not a safe name"),
    "name with a semicolon": (GOOD.replace("name: t", "name: 'a;rm'"), "not a safe name"),
    "unsafe wandb group": (GOOD + "wandb: {group: 'g$(id)'}\n", "wandb.group"),
    "results escaping the folder": (GOOD + "results: ../../elsewhere\n", "leaves the current folder"),
    "empty results": (GOOD + "results: ''\n", "empty results path"),
    "duplicate key": (GOOD + "seeds: [1]\n", "line 7: key 'seeds' given twice (first on line 5)"),
    "duplicate nested key": (GOOD.replace("{dim: [32],", "{dim: [32], dim: [64],"), "key 'dim' given twice"),
    "too many workers": (GOOD + f"local: {{workers: {(os.cpu_count() or 1) + 1}}}\n",
                         f"give at most {os.cpu_count()}"),
    "zero workers": (GOOD + "local: {workers: 0}\n", "local.workers: must be a positive integer"),
}


@pytest.mark.parametrize("case", sorted(SWEEP_MISTAKES))
def test_unsafe_sweep_files_are_one_line_errors(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text, message = SWEEP_MISTAKES[case]
    path = _sweep(tmp_path, text)
    err = _one_line_error(capsys, ["sweep", str(path), "--dry-run"])
    assert message in err and str(path) in err, err


def test_results_paths_under_the_folder_or_absolute_are_accepted(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inside = load_sweep(_sweep(tmp_path, GOOD + "results: a/../b/c\n"))
    assert inside.results == tmp_path / "b" / "c"
    absolute = load_sweep(_sweep(tmp_path, GOOD + f"results: {tmp_path.parent / 'abs'}\n"))
    assert absolute.results == tmp_path.parent / "abs"
    with pytest.raises(ConfigError, match="--out: .* leaves the current folder"):
        load_sweep(_sweep(tmp_path), out="../x")


def test_nesting_deeper_than_50_is_refused_quickly_with_the_line(tmp_path, capsys):
    path = _sweep(tmp_path, GOOD + "description: " + "[" * 5000 + "]" * 5000 + "\n")
    t0 = time.perf_counter()
    err = _one_line_error(capsys, ["sweep", str(path), "--dry-run"])
    assert time.perf_counter() - t0 < 2
    assert "line 7: nested deeper than 50 levels" in err and str(path) in err
    ok = _sweep(tmp_path, "a: " + "[" * 49 + "]" * 49 + "\n", "ok.yaml")
    assert load_yaml(ok) == {"a": eval("[" * 49 + "]" * 49)}  # noqa: S307 - 50 levels in all is allowed


def test_non_utf8_sweep_file_names_the_file(tmp_path, capsys):
    path = _sweep(tmp_path, GOOD.encode() + b"description: caf\xe9\n")
    err = _one_line_error(capsys, ["sweep", str(path), "--dry-run"])
    assert str(path) in err and "not UTF-8" in err and "save the sweep file as UTF-8" in err


def test_yaml_merge_keys_are_not_duplicates(tmp_path):
    path = _sweep(tmp_path, "base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n")
    assert load_yaml(path) == {"base": {"x": 1}, "other": {"x": 1, "y": 2}}


def test_a_million_cell_grid_is_refused_before_expansion(tmp_path, capsys, monkeypatch):
    big = GOOD.replace("grid: {dim: [32], n_memories: [2, 4], n_queries: [8]}",
                       f"grid: {{dim: {list(range(8, 1008))}, n_memories: {list(range(1, 1001))}}}")
    path = _sweep(tmp_path, big)
    t0 = time.perf_counter()
    err = _one_line_error(capsys, ["sweep", str(path), "--dry-run"])
    assert time.perf_counter() - t0 < 1.0
    assert "1,000,000 cells in one grid alone, more than the cap of 100,000" in err and "--max-cells" in err
    small = _sweep(tmp_path, GOOD, "small.yaml")  # 2 cells
    err = _one_line_error(capsys, ["sweep", str(small), "--dry-run", "--max-cells", "1"])
    assert "2 cells in one grid alone, more than the cap of 1" in err
    monkeypatch.setenv("AMBENCH_MAX_CELLS", "1")
    assert "cap of 1" in _one_line_error(capsys, ["sweep", str(small), "--dry-run"])
    assert cli.main(["sweep", str(small), "--dry-run", "--max-cells", "2"]) == 0  # the flag beats the env
    monkeypatch.setenv("AMBENCH_MAX_CELLS", "lots")
    assert "AMBENCH_MAX_CELLS must be a positive integer" in _one_line_error(capsys, ["sweep", str(small), "--dry-run"])


def test_union_of_grids_is_capped_after_removing_overlaps(tmp_path):
    text = GOOD.replace("grid: {dim: [32], n_memories: [2, 4], n_queries: [8]}",
                        "grid:\n  - {dim: [32], n_memories: [2, 4]}\n  - {dim: [32], n_memories: [4]}")
    assert len(load_sweep(_sweep(tmp_path, text), max_cells=2).cells) == 2  # 3 before the union, 2 after
    with pytest.raises(ConfigError, match="grid: 2 cells, more than the cap of 1"):
        text1 = text.replace("n_memories: [2, 4]}", "n_memories: [2]}")  # each grid 1, union 2
        load_sweep(_sweep(tmp_path, text1), max_cells=1)


def test_flags_that_would_be_ignored_are_errors(tmp_path, capsys):
    path = _sweep(tmp_path)
    err = _one_line_error(capsys, ["sweep", str(path), "--profile", "slurm/local.yaml", "--dry-run"])
    assert "--profile slurm/local.yaml is only used by the slurm executor" in err
    err = _one_line_error(capsys, ["sweep", str(path), "--out", "", "--dry-run"])
    assert "--out: empty results path" in err
    err = _one_line_error(capsys, ["sweep", str(path), "--no-wait", "--out", str(tmp_path / "r")])
    assert "--no-wait only applies to the slurm executor" in err


# --- SLURM profiles ----------------------------------------------------------------------

PROFILE_MISTAKES = {
    "unknown key": ("partiton: debug\n", "partiton: unknown key"),
    "partition with a newline": ('partition: "debug\\n#SBATCH --uid=0"\n', "partition: "),
    "account with a semicolon": ("account: 'lab;id'\n", "account: "),
    "qos with a space": ("qos: 'high prio'\n", "qos: "),
    "time in hours": ("time_min: 4h\n", "time_min: must be minutes"),
    "time of zero": ("time_min: 0\n", "time_min: must be at least 1 minute"),
    "time with 61 minutes": ("time_min: '00:61:00'\n", "time_min: must be minutes"),
    "time as a float": ("time_min: 1.5\n", "time_min: must be minutes"),
    "memory with GB": ("mem_gb: 64GB\n", "mem_gb: must be GB"),
    "memory as a bool": ("mem_gb: true\n", "mem_gb: must be GB"),
    "gres without count": ("gres: gpu\n", "gres: must be TYPE[:MODEL]:COUNT"),
    "gres with a newline": ('gres: "gpu:1\\nid"\n', "gres: "),
    "cpus as a string": ("cpus_per_task: '8'\n", "cpus_per_task: must be an integer"),
    "cpus as a bool": ("cpus_per_task: true\n", "cpus_per_task: must be an integer"),
    "negative gpus": ("gpus_per_node: -1\n", "gpus_per_node"),
    "upper-case option": ("additional_parameters: {Mail-User: me}\n", "additional_parameters: option 'Mail-User'"),
    "option with a semicolon": ("additional_parameters: {comment: 'a; id'}\n", "additional_parameters: comment:"),
    "option with a newline": ('additional_parameters: {comment: "a\\nid"}\n', "additional_parameters: comment:"),
    "option with backquotes": ("additional_parameters: {comment: '`id`'}\n", "additional_parameters: comment:"),
    "option false": ("additional_parameters: {requeue: false}\n", "false is not an sbatch flag"),
    "cells_per_job in a profile": ("cells_per_job: 4\n", "cells_per_job: not a profile setting"),
    "setup not a list of lines": ("setup: {a: 1}\n", "setup: must be a shell line"),
    "not a mapping": ("- debug\n", "a profile is a mapping"),
    "duplicate key": ("partition: a\npartition: b\n", "line 2: key 'partition' given twice"),
}


@pytest.mark.parametrize("case", sorted(PROFILE_MISTAKES))
def test_profile_fields_are_typed_and_errors_name_file_and_key(case, tmp_path):
    text, message = PROFILE_MISTAKES[case]
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_profile(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value), str(err.value)
    assert "\n" not in str(err.value)


def test_profile_slurm_syntax_is_converted_for_submitit(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("partition: gpu.a100\ntime_min: '1-02:00:30'\nmem_gb: 512M\ngres: 'gpu:a100:4'\n"
                    "additional_parameters: {requeue: true, mail-type: END}\nsetup: 'module load cuda'\n")
    params = submitit_parameters(load_profile(path))
    assert params == {"slurm_partition": "gpu.a100", "timeout_min": 26 * 60 + 1, "slurm_mem": "512M",
                      "slurm_gres": "gpu:a100:4", "slurm_additional_parameters": {"requeue": True, "mail-type": "END"},
                      "slurm_setup": ["module load cuda"]}
    assert validate_profile(path, {"time_min": "04:00:00", "mem_gb": 64})
    assert submitit_parameters(Profile(time_min=240, mem_gb=64)) == {"timeout_min": 240, "mem_gb": 64}


@pytest.mark.parametrize("name", ["local.yaml", "gpu-example.yaml"])
def test_committed_profiles_validate_and_make_a_clean_batch_script(name, tmp_path):
    from submitit.slurm.slurm import _make_sbatch_string

    params = submitit_parameters(load_profile(ROOT / "slurm" / name))
    script = _make_sbatch_string(command="python -m x", folder=tmp_path, job_name="ambench-t",
                                 **{k.removeprefix("slurm_"): v for k, v in params.items()
                                    if k not in ("timeout_min", "mem_gb")})
    header = script.split("# setup")[0].split("# command")[0]
    assert all(line.startswith("#") or not line.strip() for line in header.splitlines())


# --- the trust boundary ------------------------------------------------------------------

def test_group_writable_results_folder_is_refused_unless_trusted(tmp_path, capsys, monkeypatch):
    out = tmp_path / "r"
    out.mkdir()
    os.chmod(out, 0o775)
    path = _sweep(tmp_path)
    err = _one_line_error(capsys, ["sweep", str(path), "--out", str(out)])
    assert "writable by group or others" in err and f"chmod go-w {out}" in err and "AMBENCH_TRUST_RESULTS=1" in err
    assert not (out / "cells").exists()
    (out / "submitit").mkdir()
    os.chmod(out, 0o755)
    os.chmod(out / "submitit", 0o777)
    with pytest.raises(ConfigError, match="submitit is writable by group or others"):
        check_trusted(out)
    monkeypatch.setenv("AMBENCH_TRUST_RESULTS", "1")
    check_trusted(out)


def test_submitit_folder_is_private(tmp_path, monkeypatch):
    import shutil

    import submitit

    from ambench.sweep._executors import submit_slurm

    class Stop(Exception):
        pass

    def fake_executor(**kwargs):
        raise Stop(kwargs["folder"])

    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(submitit, "AutoExecutor", fake_executor)
    text = GOOD + f"executor: slurm\nslurm: {{profile: {ROOT / 'slurm' / 'local.yaml'}}}\n"
    sweep = load_sweep(_sweep(tmp_path, text), out=str(tmp_path / "r"))
    with pytest.raises(Stop):
        submit_slurm(sweep, [sweep.cells])
    assert stat.S_IMODE((tmp_path / "r" / "submitit").stat().st_mode) == 0o700
    os.chmod(tmp_path / "r" / "submitit", 0o755)  # an existing looser folder is tightened
    assert stat.S_IMODE(private_folder(tmp_path / "r" / "submitit").stat().st_mode) == 0o700


def test_cell_files_and_parquet_follow_the_umask(tmp_path):
    from ambench.sweep import Store

    old = os.umask(0o022)
    try:
        store = Store(tmp_path / "r")
        row = {"experiment": "e", "model": "m", "dataset": "d", "seed": 0, "cell_key": "k1", "x": float("nan")}
        store.write_result("k1", row)
        store.consolidate()
    finally:
        os.umask(old)
    for p in (tmp_path / "r" / "cells" / "k1.json", tmp_path / "r" / "results.parquet"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p
    assert '"x": null' in (tmp_path / "r" / "cells" / "k1.json").read_text()  # standard JSON, not NaN
