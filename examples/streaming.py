"""Streaming to the terminal: print the answer as it arrives, then the route and the cost.

    python examples/streaming.py "Why is the sea salty?"

A stream that fails *before* its first token falls back to the next model of the chain; once
text has arrived it cannot, and a `StreamError` carries what was received.
"""

import sys

from xroute import StreamError, XRoute


def main(question: str) -> None:
    with XRoute() as client:
        stream = client.chat.completions.create(
            model=["anthropic/claude-3.5-sonnet", "openai/gpt-4o"],
            messages=[{"role": "user", "content": question}],
            stream=True,
            stream_options={"include_usage": True},  # the last chunk carries usage: cost
        )
        try:
            with stream:  # releases the connection however the block ends
                for text in stream.text_stream:
                    print(text, end="", flush=True)
        except StreamError as err:
            print(f"\n[stream failed after {len(err.partial_text)} characters: {err}]")
            raise SystemExit(1) from err
        print()
        print(f"[{stream.route!r}]")
        print(client.usage.to_text())


if __name__ == "__main__":
    main(" ".join(sys.argv[1:]) or "In two sentences: why stream LLM answers?")
