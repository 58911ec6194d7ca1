#!/usr/bin/env bash
# The programs the tests start besides Node (run by `npm test` before the tests, and by .ci/run):
# redis-server and redis-cli for every Redis the harness starts, redis-sentinel for the Sentinel tests,
# openssl for the TLS tests' certificates, promtool (Debian's prometheus package, which also brings the
# Prometheus server) for the exposition tests, and Python's prometheus_client for /usr/bin/python3
# (Debian's python3-prometheus-client) for the test of the merge against Python's. On Debian or Ubuntu, run as root, missing ones are
# installed with apt-get, so that `npm install && npm test` is all the set-up a fresh machine needs;
# elsewhere this says what to install and stops.
set -euo pipefail

# program:Debian package (no associative arrays: macOS still ships bash 3).
needs="redis-server:redis-server redis-cli:redis-tools redis-sentinel:redis-sentinel openssl:openssl promtool:prometheus prometheus:prometheus"
missing=()
for need in $needs; do
  if ! command -v "${need%%:*}" >/dev/null 2>&1; then missing+=("${need#*:}"); fi
done
# A Python module, not a program: the check is an import by the python3 the test calls.
if ! /usr/bin/python3 -c 'import prometheus_client' >/dev/null 2>&1; then
  missing+=(python3-prometheus-client)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  echo "The tests need Debian packages that are missing; installing them with apt-get: $packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086 # one word per package
  apt-get install -y -qq --no-install-recommends $packages >/dev/null
  exit 0
fi
echo "The tests need programs that are not installed. Install these packages and run the tests again:" >&2
echo "  Debian/Ubuntu: sudo apt-get install $packages" >&2
echo "  macOS: brew install redis prometheus openssl; /usr/bin/python3 -m pip install --user prometheus-client" >&2
exit 1
