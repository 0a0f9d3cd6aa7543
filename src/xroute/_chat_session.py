"""`xroute chat`: stream answers to the terminal, with the route and cost of each."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from ._demo import client_from_environment
from ._exceptions import XRouteError
from ._sync._client import XRoute
from .routing import Balanced, Cheapest, Fastest, Policy

POLICIES: dict[str, type[Policy]] = {"cheapest": Cheapest, "fastest": Fastest, "balanced": Balanced}


def model_argument(text: str) -> Any:
    """`--model`: a policy name, a comma-separated fallback chain, or one model id."""
    name = text.strip().lower()
    if name in POLICIES:
        return POLICIES[name]()
    chain = [part.strip() for part in text.split(",") if part.strip()]
    return chain if len(chain) > 1 else text.strip()


def run_chat(args: argparse.Namespace, out: TextIO | None = None, ask: TextIO | None = None) -> int:
    """Run one question, or a session reading questions from `ask` (stdin)."""
    out = out or sys.stdout
    model = model_argument(args.model)
    history: list[dict[str, str]] = []
    if args.system:
        history.append({"role": "system", "content": args.system})
    with client_from_environment(mock=args.mock) as client:
        if args.prompt:
            return _turn(client, model, history, args, args.prompt, out)
        source = ask or sys.stdin
        while True:
            if source.isatty():
                out.write("you> ")
                out.flush()
            line = source.readline()
            if not line.strip():
                return 0
            if _turn(client, model, history, args, line.strip(), out):
                return 1


def _turn(
    client: XRoute,
    model: Any,
    history: list[dict[str, str]],
    args: argparse.Namespace,
    prompt: str,
    out: TextIO,
) -> int:
    history.append({"role": "user", "content": prompt})
    options: dict[str, Any] = {"model": model, "messages": history, "max_tokens": args.max_tokens}
    try:
        if args.no_stream:
            reply = client.chat.completions.create(**options)
            answer = reply.choices[0].message.content or ""
            out.write(answer)
            route = reply.route
        else:
            pieces: list[str] = []
            with client.chat.completions.create(
                **options, stream=True, stream_options={"include_usage": True}
            ) as stream:
                for text in stream.text_stream:
                    pieces.append(text)
                    out.write(text)
                    out.flush()
            answer, route = "".join(pieces), stream.route
    except XRouteError as err:
        history.pop()
        out.write(f"\nerror: {err}\n")
        return 1
    history.append({"role": "assistant", "content": answer})
    cost = "unknown cost" if route is None or route.cost_usd is None else f"${route.cost_usd:.6f}"
    served = route.model if route is not None else "?"
    tried = f" after {route.fallbacks} fallback(s)" if route is not None and route.fallbacks else ""
    out.write(f"\n[{served}{tried} · {cost}]\n")
    return 0
