# lbd — run `make help` for the targets.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --dirty --always 2>/dev/null || echo devel)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS := -s -w -X github.com/lbd-ha/lbd/internal/build.Version=$(VERSION) -X github.com/lbd-ha/lbd/internal/build.Commit=$(COMMIT)
export CGO_ENABLED := 0
# Tools the tests use; installed from apt when missing (root only).
TEST_TOOLS := ip:iproute2 keepalived:keepalived rpm:rpm dpkg-deb:dpkg systemd-analyze:systemd rpmlint:rpmlint chromium:chromium chromedriver:chromium-driver setpriv:util-linux openssl:openssl curl:curl
BENCH_TOOLS := haproxy:haproxy nginx:nginx wrk:wrk ip:iproute2 keepalived:keepalived

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

deps: ## download Go modules
	$(GO) mod download

build: deps ## build bin/lbd and bin/lbctl (static, CGO_ENABLED=0)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/lbd ./cmd/lbd
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/lbctl ./cmd/lbctl

# HTTP/2 test tools: h2load from apt, h2spec from the Go module proxy into
# bin/tools (where the tests look first).
TEST_TOOLS += h2load:nghttp2-client
H2SPEC := github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible

test-tools:
	@scripts/need.sh $(TEST_TOOLS)
	@test -x bin/tools/h2spec || GOBIN=$(CURDIR)/bin/tools $(GO) install $(H2SPEC)

test: deps test-tools build ## run every test (netns tests need root; with CI=true they fail instead of skipping)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 12m ./...

test-race: deps test-tools ## unit tests with the race detector
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 15m ./...

test-netns: deps test-tools build ## only the namespace tests (root)
	$(GO) test -count=1 -timeout 12m -run 'Netns|Lab|Integration' ./...

lint: deps ## gofmt, go vet and staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.6.1 ./...

FUZZTIME ?= 20s
fuzz: deps ## run every fuzz target for FUZZTIME each
	@for t in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -h '^func Fuzz' $$t/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    echo "== $$t $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$t || exit 1; \
	  done; done

demo: build test-tools ## run the built-in lab demo (root)
	scripts/demo.sh

bench: build ## lbd vs HAProxy and vs keepalived side by side (installs haproxy, nginx, wrk, keepalived; root)
	@scripts/need.sh $(BENCH_TOOLS)
	bench/run.sh
	bench/failover.sh

rpm: build ## build dist/lbd-*.rpm with nfpm
	$(GO) run ./packaging/nfpm -packager rpm -version $(VERSION) -out dist

deb: build ## build dist/lbd_*.deb with nfpm
	$(GO) run ./packaging/nfpm -packager deb -version $(VERSION) -out dist

clean: ## remove build outputs
	rm -rf bin dist

.PHONY: help deps build test-tools test test-race test-netns lint fuzz demo bench rpm deb clean
