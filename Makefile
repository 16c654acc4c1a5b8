# homeregion build, test and local stack.
# `sam build` calls build-<LogicalId> with ARTIFACTS_DIR set (BuildMethod: makefile).

SHELL        := /bin/bash
GO           ?= go
ARTIFACTS_DIR ?= $(CURDIR)/bin
LAMBDA_BUILD  = GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -trimpath -tags lambda.norpc -ldflags='-s -w'

# Lambda functions: LogicalId -> package. The failover code base is deployed
# once per ACTION (failover, promote, scale).
build-PreSignUpFunction: ; $(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/presignup
build-PreAuthFunction:   ; $(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/preauth
build-OrdersApiFunction: ; $(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/orders-api
build-FailoverFunction:  ; $(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/failover
build-PromoteFunction:   ; $(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/failover
build-ScaleFunction:     ; $(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/failover

FUNCTIONS := presignup preauth orders-api failover

.PHONY: build
build: ## linux/arm64 bootstrap per function in bin/<function>/bootstrap
	@for f in $(FUNCTIONS); do \
	  $(LAMBDA_BUILD) -o bin/$$f/bootstrap ./functions/$$f || exit 1; \
	  printf '%-12s %s bytes\n' $$f $$(stat -c %s bin/$$f/bootstrap); \
	done

.PHONY: test
test: ## unit + integration tests (each test package starts its own moto_server)
	$(GO) vet ./...
	@dsn=$${PROCESSOR_TEST_POSTGRES_DSN:-$$(.ci/postgres.sh)} || exit 1; \
	  echo "PROCESSOR_TEST_POSTGRES_DSN=$$dsn"; \
	  PROCESSOR_TEST_POSTGRES_DSN=$$dsn $(GO) test -count=1 -timeout 20m ./...

.PHONY: test-short
test-short: ## unit tests only, no moto_server
	$(GO) test -short -count=1 ./...

.PHONY: lint
lint: ## gofmt, go vet, cfn-lint
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cfn-lint template.yaml

.PHONY: bench
bench: ## in-process benchmarks
	$(GO) test -short -run '^$$' -bench . -benchmem ./...

.PHONY: clean
clean:
	rm -rf bin
