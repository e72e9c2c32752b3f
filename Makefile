# vigil — the few commands a person types. CMake does the real work in build/ (Release);
# every target re-runs `cmake -S . -B build`, which is incremental, so repeated runs are cheap.
#
#   make run     install missing run deps, build, start the demo (a message server, 8 load
#                clients, /metrics on 127.0.0.1:9464); ARGS='...' replaces its flags
#   make test    install missing test deps, build, run every test (ctest -j2)
#   make build   configure and build only
#   make bench   build, then run every build/bench/bench_* and show its BENCH lines
#   make format  clang-format -i over src include tests bench examples tools
#   make clean   remove build/

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

BUILD_DIR ?= build
JOBS ?= 2
CMAKE ?= cmake
CTEST ?= ctest
CMAKE_FLAGS ?=
ARGS ?= --addr 127.0.0.1:7070 --metrics 127.0.0.1:9464
DEMO := $(BUILD_DIR)/examples/vigil-demo

.PHONY: run test build bench clean format
.DEFAULT_GOAL := build

run:
	./scripts/install-deps.sh run
	@# The run set has no cmocka: build the tests only when it happens to be installed.
	$(CMAKE) -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release \
	    -DVIGIL_BUILD_TESTS=$$(pkg-config --exists cmocka && echo ON || echo OFF) $(CMAKE_FLAGS)
	$(CMAKE) --build $(BUILD_DIR) -j$(JOBS)
	@test -x $(DEMO) || { echo "make run: $(DEMO) was not built (is examples/ there?)" >&2; exit 1; }
	$(DEMO) $(ARGS)

test:
	./scripts/install-deps.sh test
	$(CMAKE) -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release -DVIGIL_BUILD_TESTS=ON $(CMAKE_FLAGS)
	$(CMAKE) --build $(BUILD_DIR) -j$(JOBS)
	$(CTEST) --test-dir $(BUILD_DIR) --output-on-failure -j$(JOBS)

build:
	$(CMAKE) -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	$(CMAKE) --build $(BUILD_DIR) -j$(JOBS)

bench: build
	@# Each program runs from the build tree; its whole output is kept in build/bench-logs/.
	@mkdir -p $(BUILD_DIR)/bench-logs; found=0; status=0; \
	for b in $(BUILD_DIR)/bench/bench_*; do \
	    [ -f "$$b" ] && [ -x "$$b" ] || continue; \
	    found=1; name=$$(basename "$$b"); log=$(BUILD_DIR)/bench-logs/$$name.log; \
	    echo "== $$name (log: $$log)"; \
	    if ! (cd $(BUILD_DIR) && "./bench/$$name") > "$$log" 2>&1; then \
	        echo "$$name failed:"; tail -n 20 "$$log"; status=1; fi; \
	    grep '^BENCH ' "$$log" || echo "(no BENCH lines)"; \
	done; \
	[ $$found -eq 1 ] || { echo "make bench: no bench_* programs under $(BUILD_DIR)/bench/" >&2; exit 1; }; \
	exit $$status

clean:
	rm -rf $(BUILD_DIR)

format:
	@command -v clang-format >/dev/null || { echo "make format: clang-format is not installed (apt-get install clang-format)" >&2; exit 1; }
	find $$(ls -d src include tests bench examples tools 2>/dev/null) -type f \
	    \( -name '*.c' -o -name '*.h' \) -print0 | xargs -0 -r clang-format -i
