# Everything a person does with spx has a target here.
GO      ?= go
BIN     ?= bin
PKGS    ?= ./...
DEMO_DIR ?= ./demo-data

.PHONY: all build test test-short lint fmt proto demo bench bench-quick bench-go test-cluster netns-test faults weed contract-spec contract-spec-update bench-chain clean

all: build

build: ## build spx and the single-role binaries into ./bin
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

# -count=1: test/faults and bench build the spx binary in a subprocess, which
# Go's test cache does not see; a cached pass could be of older code.
test: weed ## the full default test suite, race detector on (README's test command); S3 tests against SeaweedFS included
	SPX_WEED="$$(./scripts/weed.sh)" SPX_REQUIRE_S3=1 $(GO) test -race -count=1 -timeout 20m $(PKGS)
	cd bench && $(GO) test -race -count=1 -mod=mod -timeout 10m ./...

test-short: ## quick run without the race detector (S3 tests skip unless weed is built: make weed)
	$(GO) test -short -timeout 10m $(PKGS)

weed: ## build SeaweedFS's weed, the S3 server the tests run, once per pinned version into ~/.cache/spx (about 5 min)
	@./scripts/weed.sh >/dev/null

lint: ## go vet + gofmt check
	$(GO) vet $(PKGS)
	cd bench && $(GO) vet -mod=mod ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fmt:
	gofmt -w $$(git ls-files '*.go')

proto: ## regenerate proto/spx/v1/*.pb.go (needs protoc and protoc-gen-go)
	@command -v protoc >/dev/null || (apt-get update -qq && apt-get install -y -qq protobuf-compiler)
	@command -v protoc-gen-go >/dev/null || GOBIN=$$HOME/go/bin $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	PATH="$$HOME/go/bin:$$PATH" protoc --proto_path=proto --go_out=. --go_opt=module=github.com/spx-archive/spx proto/spx/v1/*.proto

demo: build ## simulated terminal + a few days processed end to end
	./scripts/demo.sh $(DEMO_DIR)

bench: ## spx vs DuckDB: converter (a whole day), memory, end to end, fetcher (needs ~4 GB free in TMPDIR)
	./scripts/bench.sh -e2e -fetcher

bench-quick: ## the converter against DuckDB on ~1M rows (about 30 s)
	./scripts/bench.sh -quick

bench-go: ## Go micro-benchmarks: converter, terminal decoders, simulator
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x ./pkg/archive/ ./pkg/thetadata/ ./pkg/terminalsim/

test-cluster: ## NATS cluster: stop the connected node mid-run; large staged objects at R1/R3
	SPX_CLUSTER_TEST=1 $(GO) test -race -run 'TestCluster' -v -timeout 20m ./pkg/queue

netns-test: build ## separate hosts in network namespaces (root): 476 vs proxy, a worker host cut mid-run
	SPX_BIN=./$(BIN)/spx scripts/netns-test.sh

faults: ## the full fault suite: crashes, terminal faults, full disk, bad data, 5-day load (about 30+ min)
	./scripts/faults.sh full

bench-chain: ## one expiration=* request per day and root vs one per expiration, same concurrency, simulated terminal latency: client alone, then the whole pipeline (prints per-exp/chain)
	$(GO) test -run '^$$' -bench ChainVsPerExpiration -benchtime 1x ./pkg/thetadata/ ./pkg/e2e/

contract-spec: ## re-check pkg/thetaspec's contract table against ThetaData's v3 OpenAPI file (SPX_THETADATA_OPENAPI=path, or the mirror; see docs/thetadata.md)
	$(GO) test -count=1 -run 'TestTableMatchesSpec|TestSpecExamples' -v ./pkg/thetaspec/ ./pkg/thetadata/

contract-spec-update: ## re-derive pkg/thetaspec/contract.yaml from the spec (review the diff)
	$(GO) test -count=1 -run TestTableMatchesSpec ./pkg/thetaspec/ -update

clean:
	rm -rf $(BIN) $(DEMO_DIR)
