#!/usr/bin/env bash
# Make sure a RabbitMQ broker answers at $AMQP_URL (default amqp://guest:guest@localhost:5672/).
# Order: a broker that already answers; else `docker compose` when a Docker engine answers;
# else Debian's rabbitmq-server (installed when missing and we are root), started here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
url=${AMQP_URL:-amqp://guest:guest@localhost:5672/}
PY=${PYTHON:-python3}

answers() { "$PY" "$here/port-open.py" "$url"; }
wait_for() {
  local deadline=$((SECONDS + ${1:-120}))
  until answers; do
    if (( SECONDS > deadline )); then echo "RabbitMQ did not answer at $url within ${1:-120}s" >&2; return 1; fi
    sleep 1
  done
}

if answers; then exit 0; fi

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  echo "Starting RabbitMQ with docker compose..."
  docker compose -f "$here/../docker-compose.yml" up -d rabbitmq
  wait_for 180
  exit 0
fi

if ! command -v rabbitmq-server >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "No RabbitMQ answers at $url and rabbitmq-server is not installed; run as root or start a broker" >&2
    exit 1
  fi
  "$here/apt-install.sh" rabbitmq-server
fi

echo "Starting the local rabbitmq-server..."
if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
  systemctl start rabbitmq-server || true
fi
if ! answers; then
  # No init system here: run the node in the background. As root, Debian's wrapper
  # (/usr/sbin/rabbitmq-server) switches to the rabbitmq user itself; a foreground node in
  # the background works on RabbitMQ 3.x and 4.x alike (unlike -detached).
  if [ "$(id -u)" = 0 ] && id rabbitmq >/dev/null 2>&1; then
    mkdir -p /var/log/rabbitmq /var/lib/rabbitmq && chown -R rabbitmq:rabbitmq /var/log/rabbitmq /var/lib/rabbitmq
  fi
  nohup rabbitmq-server >/tmp/onefile-worker-rabbitmq.log 2>&1 </dev/null &
fi
wait_for 180
echo "RabbitMQ answers at $url"
