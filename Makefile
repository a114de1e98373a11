# Two commands a new user needs: `make run` and `make test`.
# Both create .venv when missing and install the package (editable) with pinned
# versions; the install is skipped while pyproject.toml and constraints.txt are unchanged.
# `compile` byte-compiles the package's own modules (as pip does for a regular install;
# up to date: 0.1 s): an editable install leaves that to the first import, which writes
# nothing where PYTHONDONTWRITEBYTECODE is set (CI and this machine), so every start
# compiled them again (0.05-0.1 s of the first frame, and of each process tests spawn).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench clean compile

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

compile: $(STAMP)
	@$(BIN)/python -m compileall -q tutor

run: compile
	$(BIN)/tutor $(ARGS)

test: compile
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Every benchmark runs even when an earlier one misses its target; the exit code says
# whether any missed.
bench: compile
	status=0; for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || status=1; done; exit $$status

clean:
	rm -rf $(VENV) build dist .pytest_cache
	find tutor tests bench -name __pycache__ -prune -exec rm -rf {} +
