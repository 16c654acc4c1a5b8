# homeregion build, test and local stack.
# `sam build` calls build-<LogicalId> with ARTIFACTS_DIR set (BuildMethod: makefile).

SHELL        := /bin/bash
GO           ?= go
ARTIFACTS_DIR ?= $(CURDIR)/bin
LAMBDA_BUILD  = GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -trimpath -tags lambda.norpc$(ACTION_TAG) -ldflags='-s -w'

# Lambda functions: LogicalId -> package. The failover code base is deployed
# once per ACTION (failover, promote, scale), each built for its one action
# (build tag alarmaction_<action>): it links and initialises no SDK service
# only another action uses. cmd/coldstart reads these ACTION_TAG lines.
build-FailoverFunction: ACTION_TAG = ,alarmaction_failover
build-PromoteFunction: ACTION_TAG = ,alarmaction_promote
build-ScaleFunction: ACTION_TAG = ,alarmaction_scale
build-PreSignUpFunction: ; $(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/presignup
build-PreAuthFunction:   ; $(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/preauth
build-PostConfirmationFunction: ; $(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/postconfirmation
build-OrdersApiFunction: ; $(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/orders-api
build-FailoverFunction:  ; $(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/failover
build-PromoteFunction:   ; $(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/failover
build-ScaleFunction:     ; $(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/failover
build-ErasureFunction:   ; $(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/erasure

FUNCTIONS := presignup postconfirmation preauth orders-api failover erasure

# The on-prem order processor: a static linux binary (GOARCH=amd64|arm64) for
# the container image (Dockerfile builds the same way).
PROCESSOR_ARCH ?= amd64
.PHONY: build-processor
build-processor: ## static linux binary bin/processor-$(PROCESSOR_ARCH)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(PROCESSOR_ARCH) $(GO) build -trimpath -ldflags='-s -w' -o bin/processor-$(PROCESSOR_ARCH) ./cmd/processor
	@printf 'processor    %s bytes\n' $$(stat -c %s bin/processor-$(PROCESSOR_ARCH))

.PHONY: build
build: ## linux/arm64 bootstrap per function in bin/<function>/bootstrap
	@for f in $(FUNCTIONS); do \
	  $(LAMBDA_BUILD) -o bin/$$f/bootstrap ./functions/$$f || exit 1; \
	  printf '%-12s %s bytes\n' $$f $$(stat -c %s bin/$$f/bootstrap); \
	done

# Without PROCESSOR_TEST_POSTGRES_DSN, `make test` starts this checkout's own
# PostgreSQL cluster (.ci/postgres.sh) and stops it afterwards (also on failure
# or Ctrl-C) unless it was already running or KEEP_POSTGRES=1 is set.
KEEP_POSTGRES ?=

.PHONY: test
test: ## unit + integration tests (each test package starts its own moto_server)
	$(GO) vet ./...
	@if [ -n "$${PROCESSOR_TEST_POSTGRES_DSN:-}" ]; then dsn=$$PROCESSOR_TEST_POSTGRES_DSN; \
	  else \
	    if ! .ci/postgres.sh status && [ -z "$(KEEP_POSTGRES)" ]; then trap '.ci/postgres.sh stop' EXIT; fi; \
	    dsn=$$(.ci/postgres.sh) || exit 1; \
	  fi; \
	  echo "PROCESSOR_TEST_POSTGRES_DSN=$$dsn"; \
	  PROCESSOR_TEST_POSTGRES_DSN=$$dsn $(GO) test -count=1 -timeout 20m ./...
	@$(MAKE) --no-print-directory fuzz
	@$(MAKE) --no-print-directory demo

.PHONY: run
run: ## the whole system locally on moto_server: regions eu-west-1 + us-east-1 + eu-central-1 (registry eu-west-1); Ctrl-C stops it (flags: RUN_ARGS=-h)
	@# Not `go run`, and two recipe lines: go run (and bash after a child that
	@# exits 0) outlive a Ctrl-C pressed during the build and would then start
	@# the stack with nobody to stop it; make never starts the second line.
	$(GO) build -o bin/local ./cmd/local
	exec bin/local $(RUN_ARGS)

.PHONY: demo
demo: ## the whole story, scripted, against the running `make run` stack (or one it starts and stops)
	$(GO) run ./cmd/demo

.PHONY: test-short
test-short: ## unit tests only, no moto_server
	$(GO) test -short -count=1 ./...

.PHONY: lint
lint: ## gofmt, go vet, cfn-lint, staticcheck (pinned, installed into bin/tools), govulncheck when its database is reachable
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cfn-lint template.yaml
	cfn-lint onprem.yaml
	cfn-lint arc.yaml
	@test -x $(STATICCHECK) || { echo "installing staticcheck $(STATICCHECK_VERSION) into $(dir $(STATICCHECK))"; \
	  GOBIN=$(dir $(STATICCHECK)) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); }
	$(STATICCHECK) ./...
	@db=$${GOVULNDB:-https://vuln.go.dev}; \
	if curl -fsS --max-time 5 -o /dev/null "$$db/index/db.json" 2>/dev/null; then \
	  test -x $(GOVULNCHECK) || GOBIN=$(dir $(GOVULNCHECK)) $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) || exit 1; \
	  echo "$(GOVULNCHECK) ./..."; $(GOVULNCHECK) ./...; \
	else echo "govulncheck skipped: vulnerability database unreachable ($$db)"; fi

# Lint tools, pinned and installed into a project-local directory (bin/ is
# git-ignored). staticcheck v0.8.2 is the newest release and supports Go 1.26.
TOOLS_DIR           := $(CURDIR)/bin/tools
STATICCHECK_VERSION := v0.8.2
GOVULNCHECK_VERSION := v1.1.4
STATICCHECK         := $(TOOLS_DIR)/staticcheck-$(STATICCHECK_VERSION)/staticcheck
GOVULNCHECK         := $(TOOLS_DIR)/govulncheck-$(GOVULNCHECK_VERSION)/govulncheck

# Every FuzzXxx target runs for FUZZTIME (its committed seed corpus in
# testdata/fuzz/FuzzXxx also runs as a plain test in every `go test`). A count,
# not a duration: with a duration, Go 1.26's fuzz coordinator can report a
# spurious "context deadline exceeded" failure at the deadline
# (go.dev/issue/75804, fixed in Go 1.27). 20000 runs take 1-10 s per target here.
FUZZTIME ?= 20000x

.PHONY: fuzz
fuzz: ## run each fuzz target briefly (FUZZTIME=20000x runs each); part of `make test`
	@set -e; for f in $$(grep -rlE '^func Fuzz[A-Z][A-Za-z0-9_]*\(' --include='*_test.go' shared internal cmd functions 2>/dev/null | sort); do \
	  for n in $$(grep -oE '^func Fuzz[A-Z][A-Za-z0-9_]*' $$f | cut -d' ' -f2); do \
	    echo "fuzz ./$$(dirname $$f) $$n for $(FUZZTIME)"; \
	    $(GO) test -short -run '^$$' -fuzz "^$$n$$" -fuzztime $(FUZZTIME) ./$$(dirname $$f); \
	  done; \
	done

.PHONY: bench
bench: ## BENCHMARKS.md: cold starts, in-process handler benchmarks, ratios against raw calls on moto
	@mkdir -p $(BENCH_DIR)
	$(GO) run ./cmd/coldstart -n $(COLDSTART_N) -json $(BENCH_DIR)/coldstart.json
	set -o pipefail; $(GO) test -short -count=1 -run '^$$' -bench . -benchmem ./... | tee $(BENCH_DIR)/warm.txt
	set -o pipefail; $(GO) test -count=$(MOTO_COUNT) -run '^$$' -bench . -benchmem ./internal/benchmoto | tee $(BENCH_DIR)/moto.txt
	$(GO) run ./cmd/benchreport -coldstart $(BENCH_DIR)/coldstart.json -warm $(BENCH_DIR)/warm.txt -moto $(BENCH_DIR)/moto.txt -o BENCHMARKS.md

# bench inputs: cold-start runs per bootstrap, repetitions of the moto ratios.
BENCH_DIR   := bin/bench
COLDSTART_N ?= 15
MOTO_COUNT  ?= 5

.PHONY: clean
clean:
	rm -rf bin
