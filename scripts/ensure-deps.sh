#!/usr/bin/env bash
# Installs what k8ts needs when it is missing: npm packages (and the build they trigger), the
# node agent's runtime (containerd with ctr, runc, the CNI plugins, iptables, busybox-static for
# the built-in images), and, with --test, what the test suites use (Debian's etcd-server, skopeo,
# docker-registry). System packages come from apt, when root.
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

deb_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'
}

# The node agent (`k8ts agent`, `make run`): containerd runs the pods through runc and the CNI
# plugins; the built-in pause and busybox images are made from busybox-static, with two small
# static C programs (pause, nslookup) when gcc and libc6-dev are there; the service proxy
# deletes stale UDP flows with conntrack.
agent_missing=()
command -v containerd >/dev/null 2>&1 && command -v ctr >/dev/null 2>&1 || agent_missing+=(containerd)
command -v runc >/dev/null 2>&1 || agent_missing+=(runc)
[ -x /usr/lib/cni/bridge ] || agent_missing+=(containernetworking-plugins)
command -v iptables >/dev/null 2>&1 || agent_missing+=(iptables)
deb_installed busybox-static || agent_missing+=(busybox-static)
command -v conntrack >/dev/null 2>&1 || agent_missing+=(conntrack)
command -v gcc >/dev/null 2>&1 || agent_missing+=(gcc)
deb_installed libc6-dev || agent_missing+=(libc6-dev)
if [ "${#agent_missing[@]}" -gt 0 ]; then
  apt_install "${agent_missing[@]}" || echo "ensure-deps: ${agent_missing[*]} not installed; the node agent cannot run containers" >&2
fi

if [ "$want_test" = 1 ]; then
  # Without etcd (not root, no apt) the etcd suites skip themselves instead of failing.
  command -v etcd >/dev/null 2>&1 || apt_install etcd-server || echo "ensure-deps: etcd-server not installed; etcd tests will be skipped" >&2
  # The CRI tests push images to a local registry.
  test_missing=()
  command -v skopeo >/dev/null 2>&1 || test_missing+=(skopeo)
  command -v docker-registry >/dev/null 2>&1 || test_missing+=(docker-registry)
  if [ "${#test_missing[@]}" -gt 0 ]; then
    apt_install "${test_missing[@]}" || echo "ensure-deps: ${test_missing[*]} not installed; registry pull tests will fail" >&2
  fi
fi
