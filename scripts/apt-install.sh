#!/usr/bin/env bash
# Install Debian packages, running `apt-get update` once first when the lists are missing or old.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
stamp=/var/lib/apt/periodic/update-success-stamp
lists=$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' 2>/dev/null | head -n 1)
if [ -z "$lists" ] || [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n 1)" ]; then
  apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends "$@" >/dev/null
