"""Prometheus metric families, defined once.

Names follow Prometheus conventions (``_total`` counters, ``_seconds`` base units).
Labels never carry learner ids, event ids or tokens: every label below has a small,
fixed set of values.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, Info

__all__ = [
    "BUILD_INFO",
    "CIRCUIT_OPEN",
    "CONSUMERS_ACTIVE",
    "DEAD_LETTERS",
    "IN_FLIGHT",
    "LAST_MESSAGE_TIMESTAMP",
    "LEDGER_SECONDS",
    "MESSAGES",
    "MESSAGE_SECONDS",
    "ONEFILE_REQUESTS",
    "ONEFILE_REQUEST_SECONDS",
    "RATE_LIMIT_WAIT_SECONDS",
    "REPLAYS",
    "RETRIES_SCHEDULED",
    "UNROUTABLE_EVENTS",
]

MESSAGES = Counter(
    "onefile_worker_messages",
    "Enrolment messages by final outcome of one delivery.",
    ["outcome"],  # assigned | already_assigned | retried | dead_lettered
)
MESSAGE_SECONDS = Histogram(
    "onefile_worker_message_processing_seconds",
    "Time from taking a delivery to acking it.",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
ONEFILE_REQUESTS = Counter(
    "onefile_api_requests",
    "Onefile API calls by endpoint template and status code (or timeout/connection_error).",
    ["endpoint", "status_code"],
)
ONEFILE_REQUEST_SECONDS = Histogram(
    "onefile_api_request_duration_seconds",
    "Onefile API call latency.",
    ["endpoint"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RATE_LIMIT_WAIT_SECONDS = Histogram(
    "onefile_rate_limit_wait_seconds",
    "Time a Onefile call waited for the client-side rate limiter.",
    buckets=(0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60),
)
RETRIES_SCHEDULED = Counter(
    "onefile_worker_retries_scheduled",
    "Deliveries sent to a broker-side delay queue, by delay.",
    ["delay_s"],
)
DEAD_LETTERS = Counter(
    "onefile_worker_dead_letters",
    "Messages dead-lettered, by x-failure-reason.",
    ["reason"],
)
REPLAYS = Counter(
    "onefile_worker_replays",
    "Replayed dead letters taken by the worker (first delivery after `dlq replay`).",
)
CIRCUIT_OPEN = Gauge(
    "onefile_worker_circuit_open",
    "1 while the Onefile circuit is open (consumption paused), else 0.",
)
IN_FLIGHT = Gauge(
    "onefile_worker_in_flight_messages",
    "Deliveries taken and not yet acked.",
)
CONSUMERS_ACTIVE = Gauge(
    "onefile_worker_consumers_active",
    "1 while a consumer is registered on the work queue, else 0.",
)
LAST_MESSAGE_TIMESTAMP = Gauge(
    "onefile_worker_last_message_timestamp_seconds",
    "Unix time the last delivery was taken (catches silent consumer loss).",
)
LEDGER_SECONDS = Histogram(
    "onefile_worker_ledger_operation_seconds",
    "Idempotency ledger operation latency.",
    ["operation"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1),
)
BUILD_INFO = Info("onefile_worker_build", "Version of the running worker.")
UNROUTABLE_EVENTS = Counter(
    "onefile_worker_unroutable_events",
    "Published messages the broker returned because no queue was bound for them.",
    ["routing_key"],
)

# Labelled series exist from start-up at 0, so `increase()` and alerts see their first event.
for _outcome in ("assigned", "already_assigned", "retried", "dead_lettered"):
    MESSAGES.labels(_outcome)
for _reason in ("invalid_message", "unmapped_course", "onefile_rejected", "retries_exhausted"):
    DEAD_LETTERS.labels(_reason)
CIRCUIT_OPEN.set(0)
CONSUMERS_ACTIVE.set(0)
