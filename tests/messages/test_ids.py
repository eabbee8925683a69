from __future__ import annotations

import uuid

from messages import assigned_event_id, failed_event_id
from messages._ids import EVENT_ID_NAMESPACE


def test_assigned_event_id_is_a_uuid5_under_the_fixed_namespace():
    event_id = assigned_event_id("enr-0001")

    assert uuid.UUID(event_id).version == 5
    assert event_id == str(uuid.uuid5(EVENT_ID_NAMESPACE, "programme.assigned:event_id:enr-0001"))


def test_assigned_event_id_is_pinned_across_releases():
    # Changing this breaks deduplication of events published before the change.
    assert assigned_event_id("enr-0001") == "7a96d324-9144-5e62-b400-c9d67d7d6cf9"


def test_redelivery_gets_the_same_assigned_event_id():
    assert assigned_event_id("enr-0001") == assigned_event_id("enr-0001")


def test_different_enrolments_get_different_assigned_event_ids():
    assert assigned_event_id("enr-0001") != assigned_event_id("enr-0002")


def test_failed_event_id_depends_on_the_causation_id_not_the_body():
    assert failed_event_id("enr-0001", b"a") == failed_event_id("enr-0001", b"b")


def test_failed_and_assigned_ids_of_one_enrolment_differ():
    assert failed_event_id("enr-0001", b"") != assigned_event_id("enr-0001")


def test_failed_event_id_without_causation_is_derived_from_the_body_bytes():
    assert failed_event_id(None, b"garbage") == failed_event_id(None, b"garbage")
    assert failed_event_id(None, b"garbage") != failed_event_id(None, b"garbage ")
    assert uuid.UUID(failed_event_id(None, b"garbage")).version == 5


def test_empty_causation_id_counts_as_unreadable():
    assert failed_event_id("", b"garbage") == failed_event_id(None, b"garbage")
