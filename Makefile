# Two commands matter on a fresh machine:  `./dev demo`  and  `./dev test` (they make sure
# make and python3-venv are there, then run `make demo` / `make test`).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint unit venv system-deps clean matrix
.DEFAULT_GOAL := test

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

venv: $(BIN)/.installed

system-deps:
	@scripts/ensure-system-deps.sh

## demo: the whole thing on an embedded redis-server (Ctrl-C to stop)
demo: venv system-deps
	$(BIN)/token-blacklist demo $(DEMO_ARGS)

## lint: ruff, mypy, and _sync/ regenerated from _async/ (scripts/unasync.py) matches the tree.
lint: venv
	$(BIN)/python scripts/unasync.py --check
	$(BIN)/ruff check src tests dashboards examples scripts
	$(BIN)/ruff format --check src tests dashboards examples scripts
	$(BIN)/mypy

## test: lint, type-check and the whole suite against real redis-server processes.
## pytest's exit code 5 (no test collected) is a failure here: a suite that ran nothing
## proves nothing.
## Then the compatibility matrix (`make matrix`), unless MATRIX=no or PYTEST_ARGS is set.
test: venv system-deps lint
	@set +e; $(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; \
	if [ $$rc -ne 0 ]; then exit $$rc; fi; \
	if [ "$(MATRIX)" != no ] && [ -z "$(PYTEST_ARGS)" ]; then scripts/matrix.sh; fi

## matrix: parts of the suite on other combinations: lowest redis-py, no hiredis + RESP3,
## valkey-py clients, Valkey 9 and Redis 6.2 servers (scripts/matrix.sh says which parts).
matrix: venv system-deps
	scripts/matrix.sh $(LEGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
