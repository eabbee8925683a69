#!/usr/bin/env bash
# Check deploy/monitoring with promtool: the alert rules, the Prometheus config (which loads
# them) and the rules' unit tests (alerts_test.yml). Exits non-zero on any problem.
#
# promtool comes with Debian's `prometheus` package (2.42 on Debian 12; newer on 13). When it
# is missing and we are root, the package is installed without letting its maintainer
# scripts start a Prometheus server (no systemd needed, no port taken).
# MONITORING_DIR overrides the folder checked (the tests point it at a broken copy).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${MONITORING_DIR:-"$here/../deploy/monitoring"}
dir=$(cd "$dir" && pwd)

policy=/usr/sbin/policy-rc.d
made_policy=

cleanup() {
  if [ -n "$made_policy" ]; then rm -f "$policy"; fi
}
trap cleanup EXIT

prometheus_running() {
  command -v pgrep >/dev/null 2>&1 && pgrep -x prometheus >/dev/null 2>&1
}

install_promtool() {
  if [ "$(id -u)" != 0 ]; then
    echo "promtool is missing; install Debian's prometheus package (as root: $here/apt-install.sh prometheus)" >&2
    return 1
  fi
  local was_running=no
  if prometheus_running; then was_running=yes; fi
  # invoke-rc.d and deb-systemd-invoke ask policy-rc.d before starting a service; 101 says
  # "not now". Only a policy we put in place is removed afterwards.
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# temporary, from check-monitoring.sh: start no service\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    made_policy=1
  fi
  echo "Installing promtool (Debian package prometheus)..."
  "$here/apt-install.sh" prometheus
  # On a systemd host the package enables its service for the next boot: we only wanted
  # promtool. If a server started all the same, stop it.
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  elif [ "$was_running" = no ] && prometheus_running && [ -x /etc/init.d/prometheus ]; then
    /etc/init.d/prometheus stop >/dev/null 2>&1 || true
  fi
  command -v promtool >/dev/null 2>&1 || { echo "the prometheus package brought no promtool" >&2; return 1; }
}

command -v promtool >/dev/null 2>&1 || install_promtool

echo "promtool: $(promtool --version 2>&1 | head -n 1)"
cd "$dir"  # rule_files in prometheus.yml and alerts_test.yml are relative to this folder
status=0
promtool check rules alerts.yml || status=1
promtool check config prometheus.yml || status=1
promtool test rules alerts_test.yml || status=1
if [ "$status" != 0 ]; then
  echo "deploy/monitoring: promtool found problems (above)" >&2
fi
exit "$status"
