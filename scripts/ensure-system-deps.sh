#!/usr/bin/env bash
# Make sure the binaries the tests and the demo run for real are present:
#   redis-server (Debian package redis-server)  - required
#   redis-cli    (Debian package redis-tools)   - cluster set-up and doctor tests
#   promtool     (Debian package prometheus)    - rule tests; the prometheus binary too
#   prometheus-pushgateway (same-named package)   - the CLI's --pushgateway test
# As root with apt-get they are installed; otherwise we stop (or warn, for optional ones)
# with the package names to install.
set -euo pipefail

required=(redis-server:redis-server redis-cli:redis-tools)
optional=(promtool:prometheus prometheus:prometheus prometheus-pushgateway:prometheus-pushgateway)

missing_pkgs=()
for pair in "${required[@]}" "${optional[@]}"; do
  bin=${pair%%:*} pkg=${pair##*:}
  command -v "$bin" >/dev/null 2>&1 || missing_pkgs+=("$pkg")
done
[ ${#missing_pkgs[@]} -eq 0 ] && exit 0
mapfile -t missing_pkgs < <(printf '%s\n' "${missing_pkgs[@]}" | sort -u)

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${missing_pkgs[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}" >/dev/null
  # The packaged services are not ours: the suite starts its own processes on free ports.
  for svc in redis-server prometheus prometheus-pushgateway; do
    if command -v service >/dev/null 2>&1; then service "$svc" stop >/dev/null 2>&1 || true; fi
  done
  exit 0
fi

status=0
for pair in "${required[@]}"; do
  bin=${pair%%:*} pkg=${pair##*:}
  if ! command -v "$bin" >/dev/null 2>&1; then
    echo "error: $bin not found; install the Debian package '$pkg' (sudo apt-get install $pkg)" >&2
    status=1
  fi
done
for pair in "${optional[@]}"; do
  bin=${pair%%:*} pkg=${pair##*:}
  if ! command -v "$bin" >/dev/null 2>&1; then
    echo "warning: $bin not found; tests that need it are skipped (Debian package '$pkg')" >&2
  fi
done
exit $status
