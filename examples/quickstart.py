"""Quickstart: one chat completion through XRoute, and what it cost.

    export XROUTE_API_KEY=...          # XROUTE_BASE_URL too, if not the default endpoint
    python examples/quickstart.py

No key? examples/README.md runs every example against the local mock gateway.
"""

from xroute import XRoute


def main() -> None:
    with XRoute() as client:  # the key and endpoint come from the environment
        reply = client.chat.completions.create(
            model="openai/gpt-4o-mini",
            messages=[{"role": "user", "content": "Say hello in one sentence."}],
        )
        print(reply.choices[0].message.content)

        route = reply.route  # how the call was served: model, attempts, cost, latency
        if route is not None:
            cost = "unknown" if route.cost_usd is None else f"${route.cost_usd:.6f}"
            print(f"served by {route.model} in {route.latency_s:.2f} s, cost {cost}")
        print(client.usage)


if __name__ == "__main__":
    main()
