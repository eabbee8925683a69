"""``onefile-sandbox``: run the Onefile API simulator.

Binds the listening socket itself before starting uvicorn, so that the one line it prints
("listening on …") is true the moment it appears, ``--port 0`` reports the real port, and a
busy port is one readable line (exit 1) instead of a uvicorn traceback. Bad flags or a bad
seed file: one line, exit 2. SIGTERM/SIGINT stop it within about a second, cancelling any
request still hanging on an injected timeout.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from typing import NoReturn

import uvicorn

from worker.sandbox.app import create_app
from worker.sandbox.faults import FaultConfig, FaultConfigError
from worker.sandbox.runtime import SandboxConfig
from worker.sandbox.seed import SeedError

PROG = "onefile-sandbox"
#: Seconds uvicorn lets in-flight requests finish after SIGTERM before cancelling them.
SHUTDOWN_GRACE_S = 1
EXIT_OPERATIONAL = 1
EXIT_USAGE = 2


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _OneLineParser(prog=PROG, description="Simulate the Onefile API v2.1.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    p.add_argument("--rate-limit", type=int, default=300, help="accepted calls per window")
    p.add_argument("--window-s", type=float, default=60.0, help="rate-limit window, seconds")
    p.add_argument("--token-ttl-s", type=float, default=86400.0, help="session token lifetime")
    p.add_argument("--retry-after", action="store_true", help="send Retry-After with 429s")
    p.add_argument("--seed-file", default=None, help="seed YAML (default: the packaged one)")
    p.add_argument("--error-rate", type=float, default=0.0)
    p.add_argument("--timeout-rate", type=float, default=0.0)
    p.add_argument("--apply-then-fail-rate", type=float, default=0.0)
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--hang-s", type=float, default=30.0)
    p.add_argument("--down", action="store_true", help="start in an outage (every call 503)")
    p.add_argument("--random-seed", type=int, default=1234)
    p.add_argument("--access-log", action="store_true", help="log every request")
    return p


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """Raise ValueError (one readable line) for out-of-range settings."""
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535, got {args.port}")
    if args.rate_limit < 1:
        raise ValueError(f"--rate-limit must be at least 1, got {args.rate_limit}")
    if args.window_s <= 0:
        raise ValueError(f"--window-s must be positive, got {args.window_s}")
    if args.token_ttl_s <= 0:
        raise ValueError(f"--token-ttl-s must be positive, got {args.token_ttl_s}")
    faults = FaultConfig(
        error_rate=args.error_rate,
        timeout_rate=args.timeout_rate,
        apply_then_fail_rate=args.apply_then_fail_rate,
        latency_ms=args.latency_ms,
        hang_s=args.hang_s,
        down=args.down,
        random_seed=args.random_seed,
    )
    return SandboxConfig(
        rate_limit=args.rate_limit,
        window_s=args.window_s,
        token_ttl_s=args.token_ttl_s,
        retry_after=args.retry_after,
        customer_token=os.environ.get("ONEFILE_CUSTOMER_TOKEN") or "sandbox",
        seed_file=args.seed_file,
        faults=faults,
    )


def _listen(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted connections only then,
    # and without it every keep-alive request waits ~40 ms on Nagle plus delayed ACKs.
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def _fail(code: int, message: str) -> NoReturn:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
        app = create_app(config)
    except (FaultConfigError, SeedError, ValueError) as exc:
        _fail(EXIT_USAGE, str(exc).replace("\n", " "))
    try:
        sock = _listen(args.host, args.port)
    except OSError as exc:
        _fail(EXIT_OPERATIONAL, f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            lifespan="off",
            log_level="info" if args.access_log else "warning",
            access_log=args.access_log,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        )
    )
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(
        f"{PROG} listening on http://{shown}:{port}/api/v2.1 "
        f"(rate limit {config.rate_limit} per {config.window_s:g}s)",
        flush=True,
    )
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn re-raises the SIGINT it handled once it has shut down; that is not an error.
        sys.exit(130)


if __name__ == "__main__":
    main()
