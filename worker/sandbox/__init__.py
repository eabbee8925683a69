"""``onefile-sandbox``: a simulator of the Onefile API v2.1 for demos, tests and benchmarks.

Layout, one concern a module:

- ``seed.py`` / ``seed.yaml``: the seeded organisations, templates, standards, units, learners
- ``state.py``: the data and what each endpoint does to it (pure, no HTTP)
- ``window.py``: the sliding-window rate limit and its peak statistic
- ``tokens.py``: session tokens and their expiry
- ``faults.py``: seeded fault injection (errors, timeouts, apply-then-fail, latency, outage)
- ``runtime.py``: one run's settings, state and counters; reset
- ``api.py``: the ``/api/v2.1`` endpoints behind the limit/auth/fault guard
- ``app.py``: the Starlette app and the ``/_sandbox`` admin endpoints
- ``cli.py``: the command line

The HTTP interface is described in the docstrings of :mod:`worker.sandbox.api` and
:mod:`worker.sandbox.app`; tests start it through ``tests/sandbox_fixture.py``.
"""
