"""The command line: `python -m xroute` (or `xroute`) with `demo`, `mock`, `models`, `chat`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

EPILOG = """\
examples:
  xroute demo                                    the SDK end to end on a local mock gateway
  xroute mock --port 8080                        serve the mock gateway for your own tests
  xroute models --provider openai --sort price   the catalog, cheapest first
  xroute chat "Hello" --model openai/gpt-4o,anthropic/claude-3.5-sonnet

The key comes from XROUTE_API_KEY and the endpoint from XROUTE_BASE_URL (default
https://api.xroute.ai/openai/v1). `--mock` points models/chat at a built-in mock gateway.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xroute",
        description="XRoute unified LLM endpoint: catalog, routed chat, mock gateway, demo.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="run the end-to-end demo against a local mock gateway")
    demo.add_argument("--real", action="store_true", help="use XROUTE_API_KEY's real endpoint")

    mock = sub.add_parser("mock", help="serve the mock gateway over loopback HTTP")
    mock.add_argument("rest", nargs=argparse.REMAINDER, help="see `xroute mock --help`")

    models = sub.add_parser("models", help="list the model catalog")
    models.add_argument("--provider", action="append", help="only this provider (repeatable)")
    models.add_argument("--supports", action="append", help="capability, e.g. tools, vision")
    models.add_argument("--min-context", type=int, help="at least this many tokens of context")
    models.add_argument("--sort", default="id", choices=["id", "price", "context", "provider"])
    models.add_argument("--json", action="store_true", help="print JSON instead of a table")
    models.add_argument("--mock", action="store_true", help="ask a built-in mock gateway")

    chat = sub.add_parser(
        "chat",
        help="ask a model (one-shot, or an interactive session without a prompt)",
        description="Stream an answer to the terminal and show which model served it and "
        "what it cost. Without PROMPT, read prompts line by line (empty line or EOF ends).",
    )
    chat.add_argument("prompt", nargs="?", help="the question; omit for an interactive session")
    chat.add_argument(
        "--model",
        default="cheapest",
        help="a model id, a comma-separated fallback chain, or a policy name: "
        "cheapest, fastest, balanced (default: cheapest)",
    )
    chat.add_argument("--system", help="a system message")
    chat.add_argument("--max-tokens", type=int, help="cap the answer's length")
    chat.add_argument("--no-stream", action="store_true", help="wait for the whole answer")
    chat.add_argument("--mock", action="store_true", help="ask a built-in mock gateway")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m xroute` and the `xroute` console script."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["mock"]:
        from .testing._cli import main as mock_main

        return int(mock_main(args_list[1:]) or 0)
    args = _parser().parse_args(args_list)
    if args.command == "demo":
        from ._demo import run_demo

        return run_demo(real=args.real)
    if args.command == "models":
        return _models(args)
    if args.command == "chat":
        from ._chat_session import run_chat

        return run_chat(args)
    raise AssertionError(args.command)  # pragma: no cover - argparse guards the choices


def _models(args: argparse.Namespace) -> int:
    from ._demo import client_from_environment

    with client_from_environment(mock=args.mock) as client:
        catalog = client.models.list()
    catalog = catalog.filter(
        provider=args.provider,
        supports=args.supports,
        min_context=args.min_context,
    ).sort_by(args.sort)
    if args.json:
        print(catalog.to_json(indent=2))
    else:
        print(catalog.to_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
