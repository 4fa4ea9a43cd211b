# Two commands on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo .venv-tools/bin/uv)

.PHONY: run test install lint typecheck check fmt worker beat lint-infra

$(UV):
	$(PYTHON) -m venv .venv-tools
	.venv-tools/bin/pip install --quiet uv

install: $(UV)
	$(UV) sync --frozen

run: install
	$(UV) run python scripts/run.py

test: install
	$(UV) run python scripts/testenv.py python -m pytest -n 2 $(PYTEST_ARGS)

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run lint-imports

typecheck: install
	$(UV) run python scripts/testenv.py mypy .

check: lint typecheck

# Kubernetes overlays render and validate; Terraform is formatted (and validated where possible).
lint-infra: install
	bash scripts/lint_infra.sh

fmt: install
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

worker: install
	$(UV) run celery -A crm_platform worker -l info -Q interactive,bulk

beat: install
	$(UV) run celery -A crm_platform beat -l info
