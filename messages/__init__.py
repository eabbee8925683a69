"""The worker's public message contract (CONTRACT.md, "Messages").

Producers, consumers and the worker import from here only::

    enrolment = decode_enrolment(body)           # or DecodeError(.detail)
    event = ProgrammeAssigned.for_enrolment(enrolment, ...)
    publish(event.to_bytes())

JSON Schemas (``messages/schemas/``) and the AsyncAPI document (``messages/asyncapi.yaml``)
are generated from these models by ``python -m messages.generate``.
"""

from ._decode import DecodeError, decode_enrolment
from ._ids import assigned_event_id, failed_event_id
from ._models import SCHEMA_VERSION, LearnerEnrolled, ProgrammeAssigned, ProgrammeAssignmentFailed
from ._peek import peek_enrolment

__all__ = [
    "SCHEMA_VERSION",
    "DecodeError",
    "LearnerEnrolled",
    "ProgrammeAssigned",
    "ProgrammeAssignmentFailed",
    "assigned_event_id",
    "decode_enrolment",
    "failed_event_id",
    "peek_enrolment",
]
