# lbd — run `make help` for the targets.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --dirty --always 2>/dev/null || echo devel)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS := -s -w -X github.com/lbd-ha/lbd/internal/build.Version=$(VERSION) -X github.com/lbd-ha/lbd/internal/build.Commit=$(COMMIT)
export CGO_ENABLED := 0
# Tools the tests use; installed from apt when missing (root only).
TEST_TOOLS := ip:iproute2 nft:nftables wrk:wrk keepalived:keepalived rpm:rpm dpkg-deb:dpkg systemd-analyze:systemd rpmlint:rpmlint chromium:chromium chromedriver:chromium-driver setpriv:util-linux haproxy:haproxy halog:haproxy socat:socat hatop:hatop tmux:tmux ansible-playbook:ansible prometheus-haproxy-exporter:prometheus-haproxy-exporter curl:curl openssl:openssl bird:bird2 nginx:nginx pebble:pebble pebble-challtestsrv:pebble
BENCH_TOOLS := haproxy:haproxy nginx:nginx wrk:wrk ip:iproute2 ss:iproute2 taskset:util-linux keepalived:keepalived openssl:openssl curl:curl h2load:nghttp2-client

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

deps: ## download Go modules
	$(GO) mod download

# bin/lbd links Go's runtime with one change: the goroutines one network
# poll wakes run in the kernel's event order instead of newest first
# (scripts/netpoll-fifo.sh makes the overlay from this toolchain; without it,
# e.g. on another OS or a Go release it does not recognise, the stock
# runtime; `lbd version` says which; an error in the script fails the
# build). docs/proxy.md "Scheduling order".
build: deps ## build bin/lbd and bin/lbctl (static, CGO_ENABLED=0)
	@ov=$$(GO='$(GO)' scripts/netpoll-fifo.sh bin/.netpoll-fifo) || exit 1; np=; set --; \
	if [ -n "$$ov" ]; then np=fifo; set -- -overlay "$$ov"; fi; \
	echo $(GO) build -trimpath "$$@" -o bin/lbd ./cmd/lbd; \
	$(GO) build -trimpath "$$@" -ldflags '$(LDFLAGS) -X github.com/lbd-ha/lbd/internal/build.Netpoll='"$$np" -o bin/lbd ./cmd/lbd
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
fuzz: deps ## run every fuzz target for FUZZTIME each; fails only on a real crasher (scripts/fuzz.sh)
	FUZZTIME=$(FUZZTIME) GO=$(GO) scripts/fuzz.sh

demo: build test-tools ## run the built-in lab demo (root)
	scripts/demo.sh

demo-acme: build test-tools ## the pair gets and renews a certificate from a Pebble CA in the lab (root)
	scripts/demo-acme.sh

demo-ecmp: build test-tools ## two active nodes behind a BIRD router with ECMP over BGP (root)
	scripts/demo-ecmp.sh

bench: build ## lbd vs HAProxy in alternating pairs (PAIRS=7, CASES="seed keepalive tcp idle"; CASES="seed-cap keepalive-cap tcp-cap": req/s at a fixed CPU budget), then vs keepalived (installs haproxy, nginx, wrk, keepalived; root)
	@scripts/need.sh $(BENCH_TOOLS)
	bench/run.sh
	bench/failover.sh

bench-aa: build ## A/A calibration: lbd against itself in the same pairs (PAIRS, CASES="keepalive tcp"); its spread is the bench's resolution
	@scripts/need.sh $(BENCH_TOOLS)
	SIDES="lbd lbd" CASES="$${CASES:-keepalive tcp}" bench/run.sh

rpm: build ## build dist/lbd-*.rpm with nfpm
	$(GO) run ./packaging/nfpm -packager rpm -version $(VERSION) -out dist

deb: build ## build dist/lbd_*.deb with nfpm
	$(GO) run ./packaging/nfpm -packager deb -version $(VERSION) -out dist

clean: ## remove build outputs
	rm -rf bin dist

.PHONY: help deps build test-tools test test-race test-netns lint fuzz demo demo-acme demo-ecmp bench bench-aa rpm deb clean
