"""``python -m worker`` is ``onefile-worker``."""

from worker.cli import app

app(prog_name="onefile-worker")
