# cloudsuite-sync developer commands. Everything a fresh machine needs (Python 3.11, Node 20) is installed here.
#   make setup   create .venv (pip) and node_modules (npm ci: Azurite); quick when already done
#   make demo    run the whole sync once on the built-in simulators, print a summary, stop everything
#   make test    lint (ruff) + the IaC gate (Bicep syntax + checkov) + the whole test suite (pytest)
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: setup test demo lint iac-check clean

setup: $(VENV)/.installed node_modules/.installed .venv-iac/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) -r requirements-dev.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.venv-iac/.installed: infra/setup-iac-venv.sh
	PYTHON=$(PYTHON) infra/setup-iac-venv.sh
	@touch $@

lint: setup
	$(VENV)/bin/ruff check .

iac-check: setup
	.venv-iac/bin/python infra/validate.py

test: setup lint iac-check
	$(VENV)/bin/pytest

demo: setup
	$(PY) -m localdev.demo

clean:
	rm -rf $(VENV) .venv-iac node_modules .pytest_cache .ruff_cache .localdev
