# Two commands a new user needs: `make run` and `make test`.
# Both create .venv when missing and install the package (editable) with pinned
# versions; the install is skipped while pyproject.toml and constraints.txt are unchanged.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/tutor $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Every benchmark runs even when an earlier one misses its target; the exit code says
# whether any missed.
bench: $(STAMP)
	status=0; for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || status=1; done; exit $$status

clean:
	rm -rf $(VENV) build dist .pytest_cache
