# dynamo-cmp — see README.md. `make demo` runs the main job, `make test` runs every test.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN := bin/dynamo-cmp
FUZZTIME ?= 60s
# make fuzz-model: how many random sequences of rollout operations, and how long they are on average
MODEL_CHECKS ?= 300
MODEL_STEPS ?= 80
# staticcheck, pinned; `go run` fetches it through the module proxy, so CI installs nothing.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# The go command for the e2e module. The product module builds with Go 1.26; the e2e module
# needs Go 1.27 (Argo CD 3.6) and names it in its go.mod (`toolchain go1.27.3`). With
# GOTOOLCHAIN=auto the go command downloads that toolchain through the module proxy once
# (~76 MB) and uses it there; set here because machines may set GOTOOLCHAIN=local.
E2E_GO := GOTOOLCHAIN=auto $(GO)

.PHONY: all build image demo demo-argocd test leftovers lint lint-root lint-e2e argocdbin unit e2e e2e-compat fuzz fuzz-short fuzz-targets fuzz-model bench bench-loop bench-serve-fleet bench-fleet load shipcheck clean

all: build

## build: the static binary, exactly as the image carries it (scripts/build.sh)
build:
	scripts/build.sh $(BIN) $(VERSION)

## image: the image for linux/amd64 and linux/arm64 as one OCI index, in bin/dynamo-cmp-image.oci.tar
## (podman, nothing pulled; its SBOMs and index digest beside it; docs/install.md)
image:
	scripts/image.sh bin/dynamo-cmp-image.oci.tar $(VERSION)

## demo: DynamoDB Local + example layers + generate as Argo CD runs it; prints a summary and the
## objects as YAML, keeps the exact JSON stream in bin/demo/generate.jsonl
demo: build
	@scripts/demo.sh

## demo-argocd: the whole loop with the real Argo CD control plane — ApplicationSet → clusters,
## a publish arriving in the clusters — printed for a newcomer, then torn down
demo-argocd: build
	scripts/demo-argocd.sh

## test: lint, unit and store tests (DynamoDB Local; the fuzz targets' seed corpora), the e2e suite.
## Argo CD, then kube-apiserver/etcd (most of whose packages are Argo CD's), for the e2e suite build
## in the background from the start (a no-op when cached; e2e waits for them). The e2e module's vet runs once Argo CD's build is
## done: it needs most of the same compiled packages, and two go commands running at once
## compile a package both need twice (the build cache is shared, the work in progress is not).
test:
	@{ e2e/argocdbin/build.sh; e2e/kubebin/build.sh; } >/dev/null 2>&1 & \
	  $(MAKE) --no-print-directory lint-root unit argocdbin lint-e2e e2e

## leftovers: fails, listing them, if test servers, test binaries or e2e containers are left
## running with no test to own them (run it after `make test`; .ci/run does, for its own run)
leftovers:
	@scripts/leftovers.sh

## lint: gofmt, go vet of both modules, staticcheck of the root module
lint: lint-root lint-e2e

lint-root:
	@out=$$(gofmt -l cmd internal pkg e2e); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

lint-e2e:
	cd e2e && $(E2E_GO) vet ./...

# argocdbin: Argo CD's binary for the e2e suite (e2e/argocdbin/build.sh, into
# ~/.cache/dynamo-cmp/argocdbin-<version>), then kube-apiserver and etcd (e2e/kubebin/build.sh),
# which reuse most of its compiled packages; each waits for a build in progress and is a no-op
# when up to date. `make test` runs it before the e2e module's vet, which needs the same packages.
argocdbin:
	e2e/argocdbin/build.sh >/dev/null
	e2e/kubebin/build.sh >/dev/null

## unit: every package's tests. -timeout 30m: on a cold machine internal/shiptest's TestImageArchive
## compiles the binary for two architectures twice (once per build it compares), which passed
## go test's default 10-minute limit on a loaded 2-core machine; a hang still fails.
unit:
	$(GO) test -count=1 -timeout 30m ./...

# The Kubernetes binaries, helm (e2e/helmbin, for the add-on tests) and kustomize
# (e2e/kustomizebin, for the import adoption test) build in the
# background while Argo CD's binary builds; the e2e test binary then compiles from the warm
# build cache (Argo CD's packages are the bulk of it). The harness waits for the build
# scripts' locks. All are cached after the first run.
e2e:
	e2e/helmbin/build.sh >/dev/null & helm=$$!; e2e/kustomizebin/build.sh >/dev/null & kust=$$!; \
	  e2e/argocdbin/build.sh >/dev/null; argo=$$?; e2e/kubebin/build.sh >/dev/null; \
	  (cd e2e && $(E2E_GO) test -count=1 -timeout 40m ./...); rc=$$?; wait $$helm; wait $$kust; \
	  [ $$argo -eq 0 ] || exit $$argo; exit $$rc

## e2e-compat: the same e2e suite against the previous Argo CD minor (v3.5.8, e2e/compat/go.mod),
## its Argo CD binary in a cache of its own; not part of make test (cold: another Argo CD build)
e2e-compat:
	e2e/kubebin/build.sh >/dev/null & kube=$$!; e2e/helmbin/build.sh -modfile compat/go.mod >/dev/null & helm=$$!; \
	  e2e/kustomizebin/build.sh -modfile compat/go.mod >/dev/null & kust=$$!; \
	  e2e/argocdbin/build.sh -modfile compat/go.mod >/dev/null; argo=$$?; \
	  (cd e2e && $(E2E_GO) test -modfile=compat/go.mod -count=1 -timeout 40m . ./harness); rc=$$?; wait $$kube; wait $$helm; wait $$kust; \
	  [ $$argo -eq 0 ] || exit $$argo; exit $$rc

## bench-loop: the full loop with the real Argo CD: publish → objects changed (p50/p95, pinned
## and latest), new cluster → all objects present, bad publish → rolled back
bench-loop: build
	scripts/bench-loop.sh

## bench-serve-fleet: serve against a real argocd-server holding 1,000 clusters' 5,000 Applications
## (synthetic statuses, no controller), the build of the merge base with main and this tree
## interleaved: CPU, memory and bytes from Argo CD idle, following a change, through a rollout step
## (docs/performance.md; not part of make test; BENCH_CLUSTERS, BENCH_ROUNDS, BENCH_BASE)
bench-serve-fleet:
	scripts/bench-serve-fleet.sh

## bench-fleet: BENCH_CLUSTERS (default 50) clusters of 7 objects through the real Argo CD, dynamo-cmp
## (ApplicationSet + serve, pinned configVersion) against kustomize from Git, interleaved: bring-up,
## BENCH_CHANGES (5) global changes each → first/all clusters changed, CPU by process group,
## DynamoDB calls and capacity; then a change of BENCH_SCOPED (5) clusters (docs/performance.md;
## not part of make test)
bench-fleet:
	scripts/bench-fleet.sh

## fuzz-short: every fuzz target for a few seconds. Not part of make test since 2026-12-08: `make
## unit` runs every target's seed corpus, and the random part (18 s of fuzzing) cost ~215 CPU-s
## of a cold CI run (the instrumented rebuild of every package, std included). The bounded,
## seeded run of the rollout model, TestModel, is part of `make unit`.
fuzz-short:
	$(MAKE) --no-print-directory fuzz-targets FUZZTIME=3s

## fuzz: every fuzz target for FUZZTIME (default 60s) each, then the rollout model (fuzz-model)
fuzz: fuzz-targets fuzz-model

fuzz-targets:
	$(GO) test -run=^$$ -fuzz=^FuzzPipeline$$ -fuzztime=$(FUZZTIME) ./pkg/render
	$(GO) test -run=^$$ -fuzz=^FuzzJSONString$$ -fuzztime=$(FUZZTIME) ./pkg/render
	$(GO) test -run=^$$ -fuzz=^FuzzNameChecks$$ -fuzztime=$(FUZZTIME) ./pkg/validate
	$(GO) test -run=^$$ -fuzz=^FuzzParseRequest$$ -fuzztime=$(FUZZTIME) ./internal/plugin
	$(GO) test -run=^$$ -fuzz=^FuzzDecodeItem$$ -fuzztime=$(FUZZTIME) ./internal/store
	$(GO) test -run=^$$ -fuzz=^FuzzGetParams$$ -fuzztime=$(FUZZTIME) ./internal/serve

## fuzz-model: the model-based test of rollouts (internal/progress TestModel) on MODEL_CHECKS
## random sequences of MODEL_STEPS operations on average, from a random seed; a failure is
## shrunk to the shortest sequence found in 5 minutes and printed with the seed that reproduces it
fuzz-model:
	$(GO) test -count=1 -run '^TestModel$$' -timeout 2h ./internal/progress \
	  -rapid.checks=$(MODEL_CHECKS) -rapid.steps=$(MODEL_STEPS) -rapid.seed=0 -rapid.shrinktime=5m

## bench: render throughput (100/1,000/10,000 namespaces) and generate vs kustomize build end to end
bench:
	scripts/bench.sh

## load: 50 concurrent generate processes for 60 s, then the serve generator API with 1,000 clusters
load:
	scripts/load.sh

## shipcheck: image contents, manifests, IAM policies and docs, plus the strict dry-run of manifests/
shipcheck:
	$(GO) test -count=1 ./internal/shiptest/...
	cd e2e && $(E2E_GO) test -count=1 -timeout 30m -run '^TestManifestsDryRun$$' ./...

clean:
	rm -rf bin
