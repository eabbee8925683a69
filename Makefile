# Two set-up commands on a fresh Debian machine with only Python: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help venv test lint schemas demo rabbitmq postgres bench clean k8s monitoring

help:
	@echo "make demo     worker + RabbitMQ + Onefile sandbox, with sample enrolments flowing"
	@echo "make test     every test (starts RabbitMQ when none answers)"
	@echo "make lint     ruff"
	@echo "make schemas  regenerate messages/schemas/*.json and messages/asyncapi.yaml"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || scripts/apt-install.sh python3-venv
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

rabbitmq: venv
	PYTHON=$(PY) scripts/ensure-rabbitmq.sh

postgres: venv
	PYTHON=$(PY) scripts/ensure-postgres.sh

k8s: venv
	VENV=$(VENV) PYTHON=$(PY) scripts/check-k8s.sh

monitoring:
	scripts/check-monitoring.sh

lint: venv
	$(VENV)/bin/ruff check .

schemas: venv
	$(PY) -m messages.generate

test: venv rabbitmq postgres
	$(VENV)/bin/ruff check .
	$(PY) -m messages.generate --check
	scripts/check-monitoring.sh
	VENV=$(VENV) PYTHON=$(PY) scripts/check-k8s.sh
	$(VENV)/bin/pytest

demo: venv rabbitmq
	$(PY) -m worker.demo

bench: venv rabbitmq
	$(PY) -m bench.client_faults
	$(PY) -m bench.pipeline

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .run *.db
