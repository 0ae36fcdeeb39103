# The two commands of the README:  `make demo`  and  `make test`.
# Both create ./.venv on first use (Python 3.11+) and install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ARGS   ?=

.PHONY: demo test ui bench clean

$(BIN)/uv:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "citybase needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip uv

# Re-install whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	@touch $@

demo: $(VENV)/.installed
	$(BIN)/citybase demo $(ARGS)

ui: $(VENV)/.installed
	$(BIN)/citybase ui $(ARGS)

test: $(VENV)/.installed
	$(BIN)/python -m pytest -n 2 --dist loadfile $(ARGS)

bench: $(VENV)/.installed
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
