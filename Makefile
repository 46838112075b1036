# Gatehouse: the two set-up commands are `make run` and `make test`.
GO ?= go
FUZZTIME ?= 200000x

.PHONY: run test build lint fuzz bench bench-flow bench-bff bench-integration bench-go

run: ## run Gatehouse on its embedded database in ./gatehouse-data
	$(GO) run ./cmd/gatehouse serve

test: ## the whole test suite (what CI runs); installs what it needs
	bash scripts/test.sh

build:
	$(GO) build -o bin/gatehouse ./cmd/gatehouse

lint:
	bash scripts/test.sh --lint-only

fuzz: ## the fuzz campaign: every fuzz target for FUZZTIME each (an exec count, or a duration: FUZZTIME=10m)
	bash scripts/fuzz.sh $(FUZZTIME)

bench-go: ## go test benchmarks of the hot paths
	$(GO) test -run '^$$' -bench . -benchmem ./...

bench: ## load benchmark: Gatehouse vs oidc-provider, same run (see bench/README.md)
	bash bench/run.sh

bench-flow: ## user-flow benchmark (introspection, code, refresh, login) vs oidc-provider (see bench/README.md)
	bash bench/flow.sh

bench-bff: ## token-management service: RetrieveAccessToken over HTTP (see bench/README.md)
	bash bench/bff.sh

bench-integration: ## HTTP integration calls through Gatehouse vs direct (see bench/README.md)
	bash bench/integration.sh
