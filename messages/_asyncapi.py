"""The AsyncAPI 3.0 document of the worker: broker topology, operations and messages.

Names are CONTRACT.md's defaults; payloads ``$ref`` the generated JSON Schema files,
which only use keywords that mean the same in the AsyncAPI (draft-07) schema format.
"""

from __future__ import annotations

from typing import Any, get_args

from ._fields import FailureReason
from ._models import SCHEMA_VERSION
from ._schemas import schema_path

__all__ = ["asyncapi_document"]

AMQP_BINDING_VERSION = "0.3.0"
PERSISTENT = 2  # AMQP delivery mode

ENROLMENT_EXCHANGE = "enrolment"
PROGRAMME_EXCHANGE = "programme"
WORK_QUEUE = "onefile-worker.enrolments"
DEAD_LETTER_QUEUE = "onefile-worker.dead"


def _exchange_channel(exchange: str, routing_key: str, message: str, description: str) -> Any:
    return {
        "address": routing_key,
        "description": description,
        "messages": {message: {"$ref": f"#/components/messages/{message}"}},
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {
                    "name": exchange,
                    "type": "topic",
                    "durable": True,
                    "autoDelete": False,
                    "vhost": "/",
                },
                "bindingVersion": AMQP_BINDING_VERSION,
            }
        },
    }


def _queue_channel(queue: str, message: str, description: str, arguments: Any) -> Any:
    return {
        "address": queue,
        "description": description,
        "messages": {message: {"$ref": f"#/components/messages/{message}"}},
        "bindings": {
            "amqp": {
                "is": "queue",
                "queue": {
                    "name": queue,
                    "durable": True,
                    "exclusive": False,
                    "autoDelete": False,
                    "vhost": "/",
                },
                "bindingVersion": AMQP_BINDING_VERSION,
            }
        },
        # The AMQP binding has no field for queue arguments: an extension carries them.
        "x-amqp-queue-arguments": arguments,
    }


def _operation(action: str, channel: str, message: str, summary: str, **amqp: Any) -> Any:
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "summary": summary,
        "messages": [{"$ref": f"#/channels/{channel}/messages/{message}"}],
        "bindings": {
            "amqp": {"deliveryMode": PERSISTENT, **amqp, "bindingVersion": AMQP_BINDING_VERSION}
        },
    }


def _event_message(event_type: str, title: str, summary: str, *, caused: bool) -> Any:
    message: dict[str, Any] = {
        "name": event_type,
        "title": title,
        "summary": summary,
        "contentType": "application/json",
        "payload": {"$ref": f"./{schema_path(event_type)}"},
    }
    if caused:
        message["correlationId"] = {
            "description": "The event_id of the learner.enrolled event this answers.",
            "location": "$message.payload#/causation_id",
        }
    return message


def _dead_letter_message() -> Any:
    return {
        "name": "dead_letter",
        "title": "Dead letter",
        "summary": "An enrolment that will not be processed again unless replayed.",
        "headers": {
            "type": "object",
            "required": ["x-failure-reason", "x-failure-detail", "x-attempts"],
            "properties": {
                "x-failure-reason": {"type": "string", "enum": list(get_args(FailureReason))},
                "x-failure-detail": {"type": "string", "description": "One readable line."},
                "x-attempts": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Delivery attempts made.",
                },
            },
        },
        "payload": {"description": "The original body, byte for byte: possibly not JSON at all."},
    }


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI document as plain data, in a stable order."""
    return {
        "asyncapi": "3.0.0",
        "id": "urn:onefile-worker",
        "info": {
            "title": "onefile-worker",
            "version": SCHEMA_VERSION,
            "description": (
                "Assigns Onefile programmes to learners from learner.enrolled events, "
                "effectively once, and publishes the outcome of each."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "broker": {
                "host": "localhost:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": (
                    "RabbitMQ at AMQP_URL, by default amqp://guest:guest@localhost:5672/ "
                    "(amqps:// for TLS)."
                ),
            }
        },
        "channels": {
            "learnerEnrolled": _exchange_channel(
                ENROLMENT_EXCHANGE,
                "learner.enrolled",
                "learnerEnrolled",
                "Producers publish enrolments to the enrolment exchange.",
            ),
            "enrolments": _queue_channel(
                WORK_QUEUE,
                "learnerEnrolled",
                f"The work queue, bound to exchange {ENROLMENT_EXCHANGE} with routing key "
                "learner.enrolled. Single active consumer: one worker replica consumes at a "
                "time, the others stand by.",
                {"x-queue-type": "quorum", "x-single-active-consumer": True},
            ),
            "programmeAssigned": _exchange_channel(
                PROGRAMME_EXCHANGE,
                "programme.assigned",
                "programmeAssigned",
                "A course was assigned (or had already been) to a learner.",
            ),
            "programmeAssignmentFailed": _exchange_channel(
                PROGRAMME_EXCHANGE,
                "programme.assignment_failed",
                "programmeAssignmentFailed",
                "An enrolment was dead-lettered.",
            ),
            "deadLetters": _queue_channel(
                DEAD_LETTER_QUEUE,
                "deadLetter",
                "Dead letters, listed by `onefile-worker dlq list` and moved back to the "
                "work queue by `onefile-worker dlq replay`.",
                {"x-queue-type": "quorum"},
            ),
        },
        "operations": {
            "receiveEnrolment": _operation(
                "receive",
                "enrolments",
                "learnerEnrolled",
                "Assign the enrolment's course to the learner in Onefile.",
                ack=True,
            ),
            "sendProgrammeAssigned": _operation(
                "send",
                "programmeAssigned",
                "programmeAssigned",
                "Announce an assignment, publish-confirmed before the enrolment is acked.",
            ),
            "sendProgrammeAssignmentFailed": _operation(
                "send",
                "programmeAssignmentFailed",
                "programmeAssignmentFailed",
                "Announce a dead-lettering.",
            ),
            "sendDeadLetter": _operation(
                "send",
                "deadLetters",
                "deadLetter",
                "Dead-letter an enrolment with its reason, before it is acked.",
            ),
        },
        "components": {
            "messages": {
                "learnerEnrolled": _event_message(
                    "learner.enrolled",
                    "Learner enrolled",
                    "A learner was enrolled on a course.",
                    caused=False,
                ),
                "programmeAssigned": _event_message(
                    "programme.assigned",
                    "Programme assigned",
                    "The course of an enrolment is assigned to the learner in Onefile.",
                    caused=True,
                ),
                "programmeAssignmentFailed": _event_message(
                    "programme.assignment_failed",
                    "Programme assignment failed",
                    "An enrolment was dead-lettered: its course was not assigned.",
                    caused=True,
                ),
                "deadLetter": _dead_letter_message(),
            }
        },
    }
