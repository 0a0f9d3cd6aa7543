"""Async quickstart: three questions at once through one `AsyncXRoute` (asyncio or trio).

python examples/async_quickstart.py    # XROUTE_API_KEY from the environment
"""

import asyncio

from xroute import AsyncXRoute

QUESTIONS = [
    "Name one prime number.",
    "What colour is the sky on a clear day?",
    "Say 'ready' in French.",
]


async def ask(client: AsyncXRoute, question: str) -> str:
    reply = await client.chat.completions.create(
        model=["openai/gpt-4o-mini", "anthropic/claude-3-haiku"],  # a fallback chain
        messages=[{"role": "user", "content": question}],
        max_tokens=60,
    )
    served_by = reply.route.model if reply.route else reply.model
    return f"{question}\n  -> {reply.choices[0].message.content}\n  [{served_by}]"


async def main() -> None:
    # One client for the whole program: it holds the connection pool.
    async with AsyncXRoute() as client:
        answers = await asyncio.gather(*(ask(client, q) for q in QUESTIONS))
        print("\n".join(answers))
        print(client.usage)


if __name__ == "__main__":
    asyncio.run(main())
