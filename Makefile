# Quick start: `make run` (set up, build the ICD-10-CM index, answer sample queries), `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup browser run test bench clean

# torch first, from the CPU wheel: left to sentence-transformers, pip would pull CUDA builds.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/medcode build
	$(BIN)/medcode info
	$(BIN)/medcode search -k 3 "heart attack"
	$(BIN)/medcode search -k 3 "heart attack, anterior wall"
	$(BIN)/medcode search -k 3 "sugar diabetes"
	$(BIN)/medcode search -k 3 "broken hip, right side, first visit"
	$(BIN)/medcode search -k 3 --json "poisoning by aspirin" | head -n 30
	$(BIN)/python bench/samples.py

# the search page's end-to-end test drives Debian's headless Chromium; without it that test is skipped
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	{ if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "chromium/chromedriver missing: the search page test will be skipped"; fi; }

test: setup browser
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

# by hand, not in CI: minutes of CPU, and eval_all/accuracy --codiesp read ../shared/benchdata
bench: setup
	$(BIN)/python bench/speed.py
	$(BIN)/python bench/embed_speed.py
	$(BIN)/python bench/build_time.py
	$(BIN)/python bench/accuracy.py --codiesp
	$(BIN)/python bench/eval_all.py
	$(BIN)/python bench/serve_load.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
