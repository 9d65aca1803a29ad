# The commands of the README's quick start. Each sets itself up on a fresh machine.
#   make demo   runs the bundled example under the gate
#   make test   runs the linters, the docs build and the whole test suite (what .ci/run calls)
#   make check  the contributor's loop: lint, types and the fast tests (about a minute)
# Test files run in parallel (pytest-xdist, whole files per worker); PYTEST_WORKERS=0
# runs them one after another.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# PyTorch's CPU-only wheels (about 200 MB): the example's torch is installed from there
# first. PyPI's Linux torch is the CUDA build, several GB with its nvidia-* packages, and
# is what pip takes where this index cannot be reached (the install says so).
# `make demo TORCH_INDEX=` skips it (e.g. for the CUDA build on a GPU machine).
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH_PIN   := $(shell grep '^torch==' examples/digits/requirements.txt)
PYTEST_WORKERS ?= auto
PYTEST := $(VENV)/bin/pytest -q -n $(PYTEST_WORKERS) --dist loadfile

.PHONY: demo test check lint bench clean

$(STAMP): pyproject.toml examples/digits/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(if $(TORCH_INDEX),$(PY) -m pip install --quiet --disable-pip-version-check --retries 1 \
		--no-deps --index-url $(TORCH_INDEX) '$(TORCH_PIN)' || echo "make: $(TORCH_INDEX) \
		could not be used: pip takes $(TORCH_PIN) from your usual index (PyPI: the CUDA build)")
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]' -r examples/digits/requirements.txt
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/python examples/digits/demo.py

lint: $(STAMP)
	$(VENV)/bin/ruff check pepr_gate tests benchmarks examples scripts
	$(VENV)/bin/mypy

test: lint
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict  # not --quiet: it hides the warnings that --strict turns into errors
	$(PYTEST)

check: lint
	$(PYTEST) -m "not slow and not browser and not postgres"

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/overhead.py
	$(VENV)/bin/python benchmarks/gate_power.py
	$(VENV)/bin/python benchmarks/score_speed.py
	$(VENV)/bin/python benchmarks/check_speed.py
	$(VENV)/bin/python benchmarks/dashboard_speed.py

clean:
	rm -rf $(VENV) site .pepr examples/digits/.pepr examples/digits/metrics.json
