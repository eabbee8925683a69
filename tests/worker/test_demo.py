"""`make demo`'s flow runs end to end and stops what it started."""

from __future__ import annotations

import subprocess
import sys


def test_the_demo_shows_every_sample_outcome_and_exits_cleanly_with_once(broker):
    done = subprocess.run([sys.executable, "-m", "worker.demo", "--once", "--local"],
                          capture_output=True, text=True, timeout=120,
                          env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    out = done.stdout
    assert done.returncode == 0, done.stderr + out
    assert "7/7" in out
    assert out.count("dead-lettered") == 2
    assert "already assigned: nothing assigned again" in out
    assert "TL-CUSTOM" in out
