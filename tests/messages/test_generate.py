from __future__ import annotations

import json
from pathlib import Path

import yaml

from messages import SCHEMA_VERSION
from messages.generate import main, render, stale_files, write_files


def test_committed_schemas_and_asyncapi_are_not_stale():
    # Fails after a model change until `python -m messages.generate` is run and committed.
    assert stale_files() == []


def test_render_is_deterministic():
    assert render() == render()


def test_check_on_an_empty_directory_fails_naming_each_file_and_writes_nothing(
    tmp_path: Path, capsys
):
    assert main(["--check", "--directory", str(tmp_path)]) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    for path in render():
        assert path in err
    assert list(tmp_path.iterdir()) == []


def test_check_passes_after_writing(tmp_path: Path):
    written = write_files(tmp_path)

    assert sorted(written) == sorted(render())
    assert main(["--check", "--directory", str(tmp_path)]) == 0
    assert write_files(tmp_path) == []


def test_check_notices_a_hand_edited_file(tmp_path: Path):
    write_files(tmp_path)
    schema = tmp_path / "schemas" / "learner.enrolled.json"
    schema.write_text(schema.read_text().replace("integer", "number"))

    assert stale_files(tmp_path) == ["schemas/learner.enrolled.json"]


def test_files_end_with_one_newline():
    assert all(text.endswith("\n") and not text.endswith("\n\n") for text in render().values())


def test_schemas_are_draft_2020_12_with_id_title_and_description():
    for path in ("learner.enrolled", "programme.assigned", "programme.assignment_failed"):
        schema = json.loads(render()[f"schemas/{path}.json"])
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"].endswith(f":{path}:v1")
        assert schema["title"] and schema["description"]


def test_enrolment_schema_requires_the_contract_fields_only():
    schema = json.loads(render()["schemas/learner.enrolled.json"])

    assert schema["required"] == [
        "event_id",
        "event_type",
        "occurred_at",
        "learner_id",
        "course_code",
    ]
    assert "additionalProperties" not in schema


def test_output_schemas_require_every_field_they_publish():
    schema = json.loads(render()["schemas/programme.assignment_failed.json"])

    assert schema["required"] == list(schema["properties"])


def test_asyncapi_names_the_contract_topology():
    document = yaml.safe_load(render()["asyncapi.yaml"])
    channels = document["channels"]

    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["version"] == SCHEMA_VERSION
    assert document["servers"]["broker"]["host"] == "localhost:5672"
    assert channels["learnerEnrolled"]["bindings"]["amqp"]["exchange"]["name"] == "enrolment"
    assert channels["enrolments"]["address"] == "onefile-worker.enrolments"
    assert channels["enrolments"]["x-amqp-queue-arguments"] == {
        "x-queue-type": "quorum",
        "x-single-active-consumer": True,
    }
    assert {channels[c]["address"] for c in ("programmeAssigned", "programmeAssignmentFailed")} == {
        "programme.assigned",
        "programme.assignment_failed",
    }
    assert channels["deadLetters"]["address"] == "onefile-worker.dead"
    headers = document["components"]["messages"]["deadLetter"]["headers"]["properties"]
    assert set(headers) == {"x-failure-reason", "x-failure-detail", "x-attempts"}


def test_asyncapi_references_resolve_to_generated_schemas():
    files = render()
    document = yaml.safe_load(files["asyncapi.yaml"])

    for message in document["components"]["messages"].values():
        ref = message["payload"].get("$ref")
        if ref is not None:
            assert ref.removeprefix("./") in files


def test_every_operation_publishes_or_expects_persistent_messages():
    document = yaml.safe_load(render()["asyncapi.yaml"])

    for operation in document["operations"].values():
        assert operation["bindings"]["amqp"]["deliveryMode"] == 2
