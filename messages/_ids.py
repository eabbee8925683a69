"""Deterministic event ids for the events the worker publishes.

A redelivered enrolment must republish the *same* result event id, so consumers can
drop the duplicate: ids are UUIDv5 names under one fixed namespace, never random.
"""

from __future__ import annotations

import hashlib
import uuid

__all__ = ["EVENT_ID_NAMESPACE", "assigned_event_id", "failed_event_id"]

# Generated once with uuid4 for this contract. Never change it: every id already
# published would stop matching the one its redelivery republishes.
EVENT_ID_NAMESPACE = uuid.UUID("fb6db0bb-aabc-4b01-8594-b4e723325c4d")


def assigned_event_id(causation_id: str) -> str:
    """The ``programme.assigned`` event id for the enrolment whose event_id is given."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"programme.assigned:event_id:{causation_id}"))


def failed_event_id(causation_id: str | None, body: bytes) -> str:
    """The ``programme.assignment_failed`` event id for one dead-lettered body.

    Derived from the input event_id when it could be read, otherwise from a SHA-256 of
    the body bytes (the dead letter keeps them byte for byte, so a redelivery hashes
    the same). The two name forms differ in their prefix and cannot collide.
    """
    if causation_id:
        name = f"programme.assignment_failed:event_id:{causation_id}"
    else:
        name = f"programme.assignment_failed:body_sha256:{hashlib.sha256(body).hexdigest()}"
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, name))
