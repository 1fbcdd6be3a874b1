# GenScope: the two commands of the README quick start, plus helpers.
#   make run    set up (first time) and launch the app on the bundled models
#   make test   set up (first time) and run the whole test suite
# Setup = a virtual environment in .venv with the CPU build of PyTorch.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TORCH  ?= torch==2.13.0

.PHONY: run test bench sysdeps info clean-venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[test]"
	$(PY) -m engine warmup
	touch $(STAMP)

sysdeps:
	@bash scripts/sysdeps.sh $(SYSDEPS_ARGS)

run: $(STAMP)
	@bash scripts/sysdeps.sh --quiet || true
	$(PY) main.py $(ARGS)

# Two pytest workers (pytest-xdist): most GUI tests wait on Qt events, so two share two cores well (the suite
# took 760 s in one process on CI's two cores, 400 s in two). TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2

test: SYSDEPS_ARGS := --test
test: $(STAMP) sysdeps
	QT_QPA_PLATFORM=offscreen ALSA_CONFIG_PATH=$(CURDIR)/tests/alsa-null.conf \
		$(PY) -m pytest -q -n $(TEST_WORKERS) $(PYTEST_ARGS)

bench: $(STAMP)
	@scripts/sysdeps.sh --quiet --bench
	@for b in bench/[!_]*.py; do echo "== $$b"; QT_QPA_PLATFORM=offscreen $(PY) $$b || exit 1; done

info: $(STAMP)
	$(PY) -m engine info

clean-venv:
	rm -rf $(VENV)
