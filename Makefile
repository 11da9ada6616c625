# proxsave: every target does its own set-up (scripts/setup-deps.sh).
.PHONY: all setup build build-tests typecheck lint test test-slow check demo bench package clean

all: build

setup:
	@bash scripts/setup-deps.sh

build: setup
	@npx tsc -p tsconfig.build.json

typecheck: setup
	@npx tsc --noEmit -p .

# Lint (oxlint: the typescript-eslint rule set natively, since TypeScript 7 has no
# JS API for typescript-eslint), unused files/exports/dependencies (knip), import
# cycles (dpdm, type-only imports ignored).
lint: setup
	@npx oxlint --deny-warnings src test bench scripts packaging
	@npx knip --no-progress
	@npx dpdm --no-warning --no-tree -T --exit-code circular:1 'src/**/*.ts' 'test/**/*.ts' >/dev/null 2>&1 || { npx dpdm --no-warning --no-tree -T 'src/**/*.ts' 'test/**/*.ts'; exit 1; }

# All tests (node's own runner), compiled first (build/test/, tsconfig.test.json):
# loading TypeScript through tsx cost every test file ~0.4 CPU-s more.
# `node --import tsx --test test/x.test.ts` runs one file from source.
# PROXSAVE_SLOW=1 adds the long reliability trials.
test: build build-tests
	@PROXSAVE_TEST_DIST=1 node --test --test-concurrency=3 --test-timeout=300000 $$(find build/test/test -name '*.test.js' | sort)

test-slow: build build-tests
	@PROXSAVE_SLOW=1 PROXSAVE_TEST_DIST=1 node --test --test-concurrency=1 --test-timeout=1200000 $$(find build/test/test -name '*.test.js' | sort)

build-tests: setup
	@rm -rf build/test && npx tsc -p tsconfig.test.json

check: typecheck lint test

# Runs the main job on the bundled example host (see configs/demo.env).
demo: build
	@bash scripts/demo.sh

# Benchmarks (figures go to BENCHMARKS.md); see bench/README.md.
bench: build
	@node --import tsx bench/run.ts

# Debian package build/proxsave_<version>_all.deb: one bundled file, no native module (packaging/build-deb.ts).
package: setup
	@node --import tsx packaging/build-deb.ts

clean:
	rm -rf build dist snapshots/demo snapshots/demo-restore snapshots/demo-host snapshots/demo-backups snapshots/demo-logs snapshots/demo-lock
