# One entry for set-up, the main job, tests, benchmarks and figures. Every target builds the
# virtual environment first when it is missing (a fresh machine needs only Python >= 3.11).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast bench bench-ci bench-uhn-side-by-side figures cluster-up cluster-down clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: setup
	$(BIN)/ambench demo

test: setup
	$(BIN)/pytest -q

test-fast: setup
	$(BIN)/pytest -q -m "not slow and not slurm"

bench: setup
	$(BIN)/ambench bench

bench-ci: setup
	$(BIN)/ambench bench --quick --gate bench/baseline.json --json bench/out/bench.json

# the UHN capacity study against the authors' torch code, same work (docs/guide/uhn-speed.md):
# UHN_AUTHORS = their checkout or fetched git dir, TORCH_PY = a Python with torch, numpy, matplotlib
bench-uhn-side-by-side: setup
	$(BIN)/python bench/uhn_side_by_side.py --authors $(UHN_AUTHORS) --torch-python $(TORCH_PY) $(UHN_ARGS)

figures: setup
	$(BIN)/ambench figures --rerun-smoke

cluster-up:
	bash slurm/local-cluster up

cluster-down:
	bash slurm/local-cluster down

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache

# The documentation site (mkdocs-material) into build/site/, warnings as errors; the reference pages are generated
# from the code by docs/hooks.py.
.PHONY: docs
DOCS_STAMP := $(VENV)/.docs-installed

$(DOCS_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# Lint: ruff (pyflakes, pycodestyle, bugbear, naming, security; config in pyproject.toml) and
# pyright (basic mode; errors fail, warnings are listed). Installs the `lint` extra on first use.
.PHONY: lint
lint: setup
	$(BIN)/python -c "import ruff, pyright" 2>/dev/null || $(BIN)/pip install --quiet -e '.[lint]'
	$(BIN)/ruff check src tests experiments figures bench
	$(BIN)/pyright --pythonpath $(BIN)/python src/ambench  # the venv's packages (jaxtyping's shapes)
