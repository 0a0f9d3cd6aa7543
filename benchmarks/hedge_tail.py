"""p50/p99 latency and extra cost of hedged requests on a tail-latency model (issue 7).

    python benchmarks/hedge_tail.py [--calls 300] [--after p90]

A mock gateway serves two models with the same median time to first token; the first has a
heavy lognormal tail (sigma 1.0). The same sequence of streamed calls runs routed as a plain
fallback chain and as `Hedge(chain, after=...)`; the script prints p50/p99 time to the first
token and the cost per call (cancelled attempts' prompts included) of each.
"""

from __future__ import annotations

import argparse
import statistics
import time

import xroute
from xroute.testing import MockGateway

TAIL, STEADY = "openai/gpt-4o-mini", "anthropic/claude-3-haiku"
MESSAGES = [{"role": "user", "content": "One line on rivers"}]


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def run(policy: object, calls: int, seed: int) -> tuple[list[float], float]:
    gateway = MockGateway(seed=seed)
    gateway.script(TAIL, latency=0.0, jitter=1.0, time_to_first_token=0.05, tokens_per_second=2000)
    gateway.script(
        STEADY, latency=0.0, jitter=0.1, time_to_first_token=0.05, tokens_per_second=2000
    )
    firsts: list[float] = []
    with gateway.serve(), gateway.client() as client:
        client.models.list()  # prices for the cost of cancelled attempts
        for _ in range(calls):
            started = time.monotonic()
            with client.chat.completions.create(
                model=policy,  # type: ignore[arg-type]
                messages=MESSAGES,  # type: ignore[arg-type]
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=8,
            ) as stream:
                first = None
                for _ in stream.text_stream:
                    first = first or time.monotonic() - started
                firsts.append(first or time.monotonic() - started)
        cost = client.usage.cost_usd / calls
    return firsts, cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--after", default="p90", help="seconds, or a quantile such as p90")
    args = parser.parse_args()
    after: float | str = args.after if args.after.startswith("p") else float(args.after)
    chain = [TAIL, STEADY]
    rows = []
    for name, policy in (
        ("no hedging", xroute.Fallback(*chain)),
        (f"Hedge(after={after!r})", xroute.Hedge(chain, after=after)),
    ):
        firsts, cost = run(policy, args.calls, seed=7)
        rows.append((name, statistics.median(firsts), _quantile(firsts, 0.99), cost))
    print(f"{args.calls} streamed calls; time to first token and cost per call")
    print(f"{'policy':<26}{'p50 ms':>10}{'p99 ms':>10}{'USD/call':>14}")
    for name, p50, p99, cost in rows:
        print(f"{name:<26}{p50 * 1000:>10.1f}{p99 * 1000:>10.1f}{cost:>14.8f}")
    base, hedged = rows
    extra = hedged[3] / base[3] - 1
    print(f"p99: {base[2] / hedged[2]:.2f}x lower with hedging; extra cost {extra:+.1%}")


if __name__ == "__main__":
    main()
