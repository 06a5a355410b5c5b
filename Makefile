# The two set-up commands of the README, and a few conveniences.
DATA_DIR ?= ./data

.PHONY: run server test test-slow build bench

# Start a local 3-node cluster (installs what is missing first); kubeconfig context "k8ts".
# Remove it with: ./bin/k8ts down --cluster k8ts
run:
	./scripts/ensure-deps.sh
	./bin/k8ts up --nodes 3

# A single k8ts server with its embedded node, in the foreground. Kubeconfig: $(DATA_DIR)/kubeconfig
server:
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
	node bench/network.mjs
	node bench/ingress.mjs
