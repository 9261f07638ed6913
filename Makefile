# elasticflux: the targets a developer and CI use. `make help` lists them.
SHELL := /usr/bin/env bash
GO    ?= go
BIN   := $(CURDIR)/bin

# Unit tests: everything but the end-to-end suite.
UNIT_PKGS = $(shell $(GO) list ./... | grep -v /e2e)

.PHONY: help
help: ## List the targets.
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-14s %s\n", $$1, $$2}'

.PHONY: generate
generate: ## Regenerate deepcopy, clientset, listers, informers, apply configurations and the CRD.
	hack/update-codegen.sh

.PHONY: verify
verify: ## gofmt, go vet and generated-code freshness.
	@out="$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go'))"; \
	if [[ -n "$$out" ]]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	hack/verify-codegen.sh

.PHONY: build
build: ## Build the binaries into bin/.
	$(GO) build -o $(BIN)/ ./cmd/...

.PHONY: unit
unit: ## Unit tests only.
	$(GO) test -race -count=1 $(UNIT_PKGS)

.PHONY: test
test: verify unit ## The whole suite: verify, unit tests (and the end-to-end suite).
