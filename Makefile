# smtpmock: `make run` serves on 127.0.0.1:1025 with the default scenario; `make test` runs
# every test. Both install missing Debian packages first (needs root or sudo).
BUILD ?= build
JOBS ?= $(shell nproc)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

DEB_BUILD := cmake ninja-build g++ pkg-config libasio-dev libspdlog-dev libfmt-dev \
	nlohmann-json3-dev libyaml-cpp-dev doctest-dev libcli11-dev libssl-dev
# Test tools, as command:package pairs: a tool already on PATH (node and npm from
# NodeSource, say) is used as it is, so apt never fights another packaging of it.
TEST_TOOLS := /usr/bin/python3:python3 swaks:swaks msmtp:msmtp curl:curl node:nodejs npm:npm

.PHONY: all deps test-deps build run test unit integration clean format format-check

all: build

deps:
	@missing=$$(for p in $(DEB_BUILD); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

test-deps: deps
	@missing=$$(for t in $(TEST_TOOLS); do command -v $${t%%:*} >/dev/null 2>&1 || echo $${t#*:}; done; \
	  /usr/bin/python3 -c 'import pytest' 2>/dev/null || echo python3-pytest); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi
	cd tests/integration/node && npm ci --no-audit --no-fund --loglevel=error

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/server/app/smtpmock serve $(ARGS)

test: test-deps build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

unit: build
	cd $(BUILD) && ctest --output-on-failure -E integration

integration: test-deps build
	cd $(BUILD) && ctest --output-on-failure -R integration

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD)
