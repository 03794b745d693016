# vantage: `make run` builds and runs the probe, `make test` sets up and runs every test.
GO ?= go
BIN := bin/vantage
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/vantage-probe/vantage/probe/runner.SoftwareVersion=$(VERSION)

.PHONY: build run test deps fuzz bench lab-bench mutate cross-check test-purego release deb-check cross-test

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/vantage

# run measures the test list of your country. ARGS passes flags, e.g.
# make run ARGS="check". On a machine without internet wrap it: make run ISOLATED=1.
run: build
ifeq ($(ISOLATED),1)
	sh .ci/isolated ./$(BIN) $(or $(ARGS),run)
else
	./$(BIN) $(or $(ARGS),run)
endif

# deps installs what the tests need (kernel networking tools, PostgreSQL, Chromium);
# it is a no-op when everything is present or when not root.
deps:
	bash .ci/deps
	@if [ -f .ci/services ]; then bash .ci/services; fi

test: deps build
	$(GO) vet ./...
	$(MAKE) --no-print-directory cross-check test-purego deb-check
	FUZZTIME=$(or $(FUZZTIME),5s) bash .ci/fuzz
	bash report/testdata/kat/verify.sh
	VANTAGE_BIN=$(CURDIR)/$(BIN) $(GO) test -timeout 40m ./...

fuzz:
	bash .ci/fuzz

# lab-bench runs the 1,000-URL lab benchmark (root or user namespaces).
lab-bench: build
	./$(BIN) lab bench

# mutate runs mutation testing (gremlins v0.6.0, installed into bin/ on first use) over
# the rule files, package by package; not part of test: it takes tens of minutes.
# PKGS limits it, e.g. make mutate PKGS="report/upload probe/store". Figures and the
# equivalent mutants: docs/benchmarks.md.
mutate:
	bash .ci/mutate $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# cross-check builds ./cmd/vantage for every release target and runs go vet over
# the whole tree for one target of each OS and width, so that no change breaks an OS
# the CI machine is not. Cgo is off there: the pure-Go sqlite driver stands in
# (report/sqlitedb). The tests' mmdb writer (thserver/mmdbtest) is 64-bit only by
# its build constraint, so linux/arm vets without it.
CROSS_TARGETS := windows/amd64 darwin/amd64 darwin/arm64 linux/arm64 linux/arm
CROSS_VET_TARGETS := windows/amd64 darwin/arm64 linux/arm64 linux/arm
cross-check:
	@set -e; for t in $(CROSS_TARGETS); do \
		echo "cross-check: build $$t"; \
		GOOS=$${t%/*} GOARCH=$${t#*/} GOARM=7 CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/vantage; \
	done; \
	for t in $(CROSS_VET_TARGETS); do \
		echo "cross-check: vet $$t"; \
		GOOS=$${t%/*} GOARCH=$${t#*/} GOARM=7 CGO_ENABLED=0 $(GO) vet ./...; \
	done

# test-purego runs the store's and the collector's tests on the pure-Go sqlite
# driver, the one the cross-built releases without a C cross compiler carry.
test-purego:
	$(GO) test -tags purego ./report/sqlitedb ./probe/store ./report/collector/...

# release writes bin/release: archives for linux amd64/arm64/armv7, windows amd64
# and darwin amd64/arm64, .deb packages (nfpm) for the Linux ones, SHA256SUMS and
# BUILDINFO (which sqlite driver each binary carries). cmd/vantage/dist/release.sh.
release:
	VERSION=$(VERSION) bash cmd/vantage/dist/release.sh

# deb-check packages bin/vantage as a .deb, installs it with dpkg into a temporary
# root, runs its --version and has systemd-analyze verify its units.
deb-check: build
	bash cmd/vantage/dist/release.sh deb-check $(BIN)

# cross-test runs the test binaries of the platform-independent packages and netx
# under qemu-user-static (arm64, armv7) and wine64 (windows) where they can, and
# lists those that cannot; not in test: emulated, it takes minutes. PKGS limits it.
cross-test:
	bash .ci/cross-test $(PKGS)
