"""Write the JSON Schemas and the AsyncAPI document generated from the models.

    python -m messages.generate            # (re)write the files that changed
    python -m messages.generate --check    # exit 1, writing nothing, if any is stale

Output is deterministic (stable key order, "\\n" line ends, a trailing newline), so the
committed files change only when the models do.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from ._asyncapi import asyncapi_document
from ._schemas import GENERATED_NOTE, MESSAGE_MODELS, message_schema, schema_path

__all__ = ["PACKAGE_DIR", "main", "render", "stale_files", "write_files"]

PACKAGE_DIR = Path(__file__).parent
ASYNCAPI_PATH = "asyncapi.yaml"


def render() -> dict[str, str]:
    """Every generated file's text, by path relative to the ``messages`` package."""
    files = {
        schema_path(event_type): json.dumps(message_schema(event_type), indent=2) + "\n"
        for event_type in MESSAGE_MODELS
    }
    document = yaml.safe_dump(asyncapi_document(), sort_keys=False, allow_unicode=True, width=100)
    files[ASYNCAPI_PATH] = f"# {GENERATED_NOTE}\n{document}"
    return files


def stale_files(directory: Path = PACKAGE_DIR) -> list[str]:
    """Generated files under ``directory`` that are missing or differ from ``render()``."""
    return [
        path
        for path, text in render().items()
        if not (directory / path).is_file() or (directory / path).read_bytes() != text.encode()
    ]


def write_files(directory: Path = PACKAGE_DIR) -> list[str]:
    """Rewrite the stale files under ``directory``; return their paths."""
    stale = stale_files(directory)
    rendered = render()
    for path in stale:
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(rendered[path].encode())
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m messages.generate",
        description="Generate the message JSON Schemas and AsyncAPI document from the models.",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if any file is stale"
    )
    parser.add_argument(
        "--directory", type=Path, default=PACKAGE_DIR, help="where to write (default: the package)"
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.directory)
        if stale:
            print(
                f"messages: stale generated files: {', '.join(stale)} "
                "(run `python -m messages.generate`)",
                file=sys.stderr,
            )
            return 1
        print("messages: generated files are up to date")
        return 0
    written = write_files(args.directory)
    print(f"messages: wrote {', '.join(written)}" if written else "messages: nothing to write")
    return 0


if __name__ == "__main__":
    sys.exit(main())
