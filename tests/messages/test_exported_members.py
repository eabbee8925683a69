import inspect

import messages


def test_all_pins_the_public_surface():
    assert messages.__all__ == [
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


def test_every_public_name_of_the_package_is_exported():
    public = {
        name
        for name, value in vars(messages).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public == set(messages.__all__)


def test_exported_names_come_from_private_modules_only():
    modules = {
        getattr(messages, name).__module__
        for name in messages.__all__
        if hasattr(getattr(messages, name), "__module__")
    }
    assert all(module.startswith("messages._") for module in modules)
