# The two set-up commands of the README, and a few conveniences.
DATA_DIR ?= ./data

.PHONY: run test test-slow build bench

# Start a k8ts server (installs what is missing first). Kubeconfig: $(DATA_DIR)/kubeconfig
run:
	./scripts/ensure-deps.sh
	./bin/k8ts server --data-dir $(DATA_DIR)

# Run the tests (installs what the tests need first: npm packages, etcd-server).
test:
	./scripts/ensure-deps.sh --test
	npm test

# Also run the slow suites.
test-slow:
	./scripts/ensure-deps.sh --test
	npm test -- --slow

build:
	npx tsc -p tsconfig.json

bench:
	./scripts/ensure-deps.sh --test
	node bench/apiserver.mjs
	node bench/scheduler.mjs
	node bench/controllers.mjs
	node bench/node.mjs
