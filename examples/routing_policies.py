"""Cheapest and fastest routing: let a policy pick the model, then read the route report.

    python examples/routing_policies.py

`Cheapest` ranks the catalog by price for this call; `Fastest` learns each model's latency
from every call (with a little exploration) and leads with the quickest. Both keep the
fallback behaviour of a chain: the next candidate answers when one fails.
"""

from xroute import Cheapest, Fastest, RouteReport, XRoute

QUESTION = [{"role": "user", "content": "Give me one tip for writing clear code."}]
CONTENDERS = ["openai/gpt-4o-mini", "anthropic/claude-3-haiku", "google/gemini-2.0-flash-001"]


def print_report(title: str, route: RouteReport | None) -> None:
    if route is None:
        return
    cost = "unknown" if route.cost_usd is None else f"${route.cost_usd:.6f}"
    print(f"{title}: served by {route.model}, {route.latency_s:.3f} s, {cost}")
    for attempt in route.attempts:
        print(f"    {attempt.describe()}")


def main() -> None:
    with XRoute() as client:
        catalog = client.models.list()
        tools_capable = catalog.filter(supports="tools", min_context=32_000).sort_by("price")
        print(f"{len(tools_capable)} models can call tools with 32k+ context; the cheapest three:")
        for model in list(tools_capable)[:3]:
            print(f"  {model!r}")

        # The cheapest model that can call tools and holds 32k tokens.
        cheapest = Cheapest(requires="tools", min_context=32_000)
        reply = client.chat.completions.create(model=cheapest, messages=QUESTION)
        print_report(f"{cheapest!r}", reply.route)

        # The fastest of a few contenders, learned over several calls: each untried model
        # gets a call first. rank_ttl_s=0 re-ranks on every call; the default re-ranks at
        # most once a second, which is plenty under real traffic.
        fastest = Fastest(CONTENDERS, rank_ttl_s=0)
        for n in range(1, 7):
            reply = client.chat.completions.create(model=fastest, messages=QUESTION, max_tokens=40)
            print_report(f"Fastest call {n}", reply.route)

        print("what routing has learned:")
        for model_id in CONTENDERS:
            health = client.route_state.snapshot(model_id)
            latency = "-" if health.latency_s is None else f"{health.latency_s:.3f} s"
            print(f"  {model_id:32} latency {latency:>9}  calls {health.samples}")
        print(client.usage.to_text())


if __name__ == "__main__":
    main()
