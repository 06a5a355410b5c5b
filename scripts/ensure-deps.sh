#!/usr/bin/env bash
# Installs what k8ts needs when it is missing: npm packages (and the build they trigger), and,
# with --test, what the test suites use (Debian's etcd-server, via apt when root).
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
for a in "$@"; do [ "$a" = "--test" ] && want_test=1; done

# npm packages: install when node_modules is missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  # Sources may have changed since the last build.
  npx tsc -p tsconfig.json
fi

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "ensure-deps: $* missing and not root; install it with apt-get" >&2
    return 1
  fi
  if [ ! -f /tmp/.k8ts-apt-updated ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && touch /tmp/.k8ts-apt-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if [ "$want_test" = 1 ]; then
  # Without etcd (not root, no apt) the etcd suites skip themselves instead of failing.
  command -v etcd >/dev/null 2>&1 || apt_install etcd-server || echo "ensure-deps: etcd-server not installed; etcd tests will be skipped" >&2
fi
