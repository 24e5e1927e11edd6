"""The one build step pyproject.toml cannot declare: the wheel carries the repository's
experiments/, figures/ (one folder per figure), sweeps/ and the SLURM profiles slurm/*.yaml that
sweep files name (their source of truth stays at the top level) as ambench/_shipped/,
where `ambench._resources` finds them after a non-editable install. An editable install reads
the checkout's folders directly and copies nothing."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIPPED = {"experiments": ("*.py",), "figures": ("*/figure.py", "*/sweep.yaml"), "sweeps": ("*.yaml",),
           "slurm": ("*.yaml",)}


class BuildPyWithShipped(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for folder, patterns in SHIPPED.items():
            files = sorted(f for pattern in patterns for f in (HERE / folder).glob(pattern))
            if not files:
                raise SystemExit(f"setup.py: no {folder}/{patterns[0]} next to setup.py; build from the repository or its sdist")
            target = Path(self.build_lib) / "ambench" / "_shipped" / folder
            self.mkpath(str(target))
            for file in files:
                into = target / file.relative_to(HERE / folder)
                self.mkpath(str(into.parent))
                self.copy_file(str(file), str(into), preserve_mode=False)


setup(cmdclass={"build_py": BuildPyWithShipped})
