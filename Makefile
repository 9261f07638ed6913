# elasticflux: the targets a developer and CI use. `make help` lists them.
SHELL := /usr/bin/env bash
GO    ?= go
BIN   := $(CURDIR)/bin

# The release the binaries and the image are stamped with.
VERSION ?= $(shell git describe --tags --always --dirty)
LDFLAGS := -X github.com/elasticflux/elasticflux/pkg/version.version=$(VERSION)

# Unit tests: everything but the end-to-end suite.
UNIT_PKGS = $(shell $(GO) list ./... | grep -v /e2e)

.PHONY: help
help: ## List the targets.
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-14s %s\n", $$1, $$2}'

.PHONY: generate
generate: ## Regenerate deepcopy, clientset, listers, informers, apply configurations, the CRD, and manifests/ from the chart.
	hack/update-codegen.sh

.PHONY: verify
verify: ## gofmt, go vet, generated-code and manifests/ freshness, helm lint.
	@out="$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go'))"; \
	if [[ -n "$$out" ]]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	hack/verify-codegen.sh
	hack/helm.sh lint --strict charts/elasticflux
	hack/helm.sh lint --strict charts/elasticflux --set watchNamespace=team-a --set metrics.serviceMonitor.enabled=true

.PHONY: build
build: ## Build the binaries into bin/, stamped with VERSION (git describe).
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

.PHONY: image
image: ## Build the image (linux/amd64 and linux/arm64, tagged VERSION) into bin/image/elasticflux.tar, an OCI archive.
	VERSION=$(VERSION) hack/image.sh

.PHONY: unit
unit: ## Unit tests only.
	$(GO) test -race -count=1 $(UNIT_PKGS)

.PHONY: tools
tools: ## Build the local control plane (etcd, kube-*, kubectl, kwok, metrics-server) into bin/, once.
	hack/build-tools.sh

.PHONY: flux-image
flux-image: ## Build the Flux broker image (Debian 12 + flux-core 0.88.0) into bin/flux-image, once; needs root.
	hack/flux-image.sh

.PHONY: flux-image-check
flux-image-check: ## Build the Flux broker image if needed, then prove it runs Flux (chroot and a private containerd).
	hack/flux-image.sh --check

.PHONY: cluster-up
cluster-up: tools ## Start the local control plane in the background; kubeconfig in .local/kubeconfig.
	hack/cluster-up.sh

.PHONY: cluster-down
cluster-down: ## Stop the local control plane started by cluster-up.
	hack/cluster-down.sh

.PHONY: e2e
e2e: build tools image flux-image ## End-to-end tests on the local cluster (started if not running): kwok nodes, and real Flux brokers on the real node.
	hack/e2e.sh

.PHONY: run
run: build ## Run the controller; with no KUBECONFIG, on a fresh local cluster with the sample applied.
	hack/run.sh

.PHONY: bench
bench: build tools ## Benchmarks: Go micro-benchmarks and the controller at up to 1,000 MiniClusters (WRITE=1 updates BENCHMARKS.md).
	hack/bench.sh

.PHONY: test
test: verify unit e2e ## The whole suite: verify, unit tests and the end-to-end suite.
