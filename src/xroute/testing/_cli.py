"""``xroute mock``: run the mock gateway from a shell."""

from __future__ import annotations

import argparse
import contextlib
import shlex
from collections.abc import Sequence

from ._gateway import MockGateway

_EXAMPLE_BODY = (
    '{"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hello!"}]}'
)


def build_parser(prog: str = "xroute mock") -> argparse.ArgumentParser:
    """The command line of the mock gateway."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run the xroute mock gateway: an OpenAI-compatible fake LLM endpoint with "
        "a realistic model catalog and deterministic answers. No key, no network.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8080,
        help="port to bind, 0 for a free one (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every answer and delay")
    key = parser.add_mutually_exclusive_group()
    key.add_argument(
        "--api-key", default="test-key", help="the accepted key (default: %(default)s)"
    )
    key.add_argument("--any-key", action="store_true", help="accept any non-empty Bearer key")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="factor on every scripted delay: 0 instant, 1 the catalog pace, 10 about real time",
    )
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str = "xroute mock") -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), serve until Ctrl-C, return the exit code."""
    args = build_parser(prog).parse_args(argv)
    if args.time_scale < 0:
        build_parser(prog).error("--time-scale must be >= 0")
    gateway = MockGateway(
        seed=args.seed, api_key=None if args.any_key else args.api_key, time_scale=args.time_scale
    )

    def ready(base_url: str) -> None:
        curl = (
            f"curl {base_url}/chat/completions -H 'Authorization: Bearer {gateway.api_key}' "
            f"-H 'Content-Type: application/json' -d {shlex.quote(_EXAMPLE_BODY)}"
        )
        print(
            f"xroute mock gateway on {base_url} (seed {args.seed}, "
            f"{'any key' if args.any_key else f'api key {gateway.api_key!r}'}, "
            f"time scale {args.time_scale:g})\n"
            f"Try:\n  {curl}\n"
            f"or point any OpenAI-compatible client at base_url={base_url!r}, "
            f"api_key={gateway.api_key!r}.\nCtrl-C stops it.",
            flush=True,
        )

    # uvicorn re-raises the SIGINT it handled once it has shut down; that is a clean stop.
    with contextlib.suppress(KeyboardInterrupt):
        gateway.serve_forever(args.host, args.port, on_ready=ready)
    return 0
