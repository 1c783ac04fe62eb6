# smtpmock: `make run` serves on 127.0.0.1:1025 with the default scenario; `make test` runs
# every test. Both install missing Debian packages first (needs root or sudo).
BUILD ?= build
JOBS ?= $(shell nproc)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

DEB_BUILD := cmake ninja-build g++ pkg-config libasio-dev libspdlog-dev libfmt-dev \
	nlohmann-json3-dev libyaml-cpp-dev libre2-dev doctest-dev libcli11-dev libssl-dev libc-ares-dev \
	librestinio-dev libgmime-3.0-dev prometheus-cpp-dev libstb-dev
# Test tools, as command:package pairs: a tool already on PATH (node and npm from
# NodeSource, say) is used as it is, so apt never fights another packaging of it.
TEST_TOOLS := /usr/bin/python3:python3 swaks:swaks msmtp:msmtp curl:curl node:nodejs npm:npm \
	/usr/sbin/smtp-sink:postfix /usr/sbin/dnsmasq:dnsmasq-base /usr/bin/chromium:chromium \
	/usr/bin/firefox-esr:firefox-esr
# Python modules the tests import, as module:package pairs (for /usr/bin/python3).
TEST_PY := pytest:python3-pytest aiosmtpd:python3-aiosmtpd prometheus_client:python3-prometheus-client

.PHONY: all deps test-deps build build-all run install test unit integration soak bench \
	bench-quick clean format format-check docker-deps test-docker

all: build

deps:
	@missing=$$(for p in $(DEB_BUILD); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

test-deps: deps
	@missing=$$(for t in $(TEST_TOOLS); do command -v $${t%%:*} >/dev/null 2>&1 || echo $${t#*:}; done; \
	  for m in $(TEST_PY); do /usr/bin/python3 -c "import $${m%%:*}" 2>/dev/null || echo $${m#*:}; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  echo "postfix postfix/main_mailer_type select No configuration" | $(SUDO) debconf-set-selections; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	  $(SUDO) postfix stop >/dev/null 2>&1 || true; \
	fi
	# puppeteer-core (the web UI's browser test) drives Debian's chromium; no browser is ever
	# downloaded (puppeteer-core has no download step; the variable says so to any that would).
	cd tests/integration/node && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja

# `make build` and `make run` build only the server; the tests are built by `make test`.
build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target smtpmock

build-all: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/server/app/smtpmock serve $(ARGS)

# The binary in $(PREFIX)/bin (stripped) and the bundled scenarios in
# $(PREFIX)/share/smtpmock/scenarios, where the installed binary looks for them.
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX) --strip

test: test-deps build-all
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

unit: build-all
	cd $(BUILD) && ctest --output-on-failure -E integration

integration: test-deps build-all
	cd $(BUILD) && ctest --output-on-failure -R integration

# The fault soak (bench/soak.py): SOAK_MESSAGES over 50 kept connections, exact accounting.
SOAK_MESSAGES ?= 20000
soak: build
	/usr/bin/python3 bench/soak.py --messages $(SOAK_MESSAGES) --connections 50 \
	  --bin ./$(BUILD)/server/app/smtpmock

# smtpmock side by side with smtp-sink and aiosmtpd (bench/compare.sh): the full run writes
# bench/RESULTS.md; bench-quick is the smoke run CI makes (small counts, nothing written).
bench: build test-deps
	SMTPMOCK_BIN=./$(BUILD)/server/app/smtpmock bench/compare.sh
bench-quick: build test-deps
	SMTPMOCK_BIN=./$(BUILD)/server/app/smtpmock bench/compare.sh --quick

# The Docker image (docker/Dockerfile), built and tested with podman (there is no Docker engine
# here). docker-deps installs podman and friends, writes /etc/containers/containers.conf if absent
# and makes the debian:bookworm-slim base image with debootstrap if podman lacks it.
docker-deps:
	bash tests/docker/setup-podman.sh

test-docker: docker-deps test-deps
	bash tests/docker/run.sh

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD)

# libFuzzer targets (tests/fuzz), built in build-fuzz/ and each run FUZZ_SECONDS seconds; fails on
# a crash, leak, timeout or invariant failure. Prints each target's executions.
FUZZ_SECONDS ?= 60
.PHONY: fuzz test-sanitize
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) bash tests/fuzz/run.sh

# The whole suite (unit + integration) against an ASan/UBSan build in build-sanitize/, with leak
# detection; fails on a test failure or any sanitizer report (tests/sanitize/run.sh).
test-sanitize: test-deps
	JOBS=$(JOBS) bash tests/sanitize/run.sh
