"""Fallback chains: when a model is down, rate limited or unknown, the next one answers.

    python examples/fallback_chain.py

A list of ids is a chain. Connection errors, timeouts, 429, 5xx, 404 and context-length errors
move on to the next model; 400, 401, 403 and 422 do not (every model would refuse the same
request). `reply.route.attempts` says what happened, and `on_fallback` is told as it happens.
"""

from xroute import AllModelsFailedError, XRoute

CHAIN = ["openai/gpt-4o", "anthropic/claude-3.5-sonnet", "google/gemini-2.0-flash-001"]
QUESTION = [{"role": "user", "content": "One sentence on why fallbacks matter."}]


def announce(event) -> None:
    """The `on_fallback` hook: called with .from_model, .error and .to_model."""
    print(f"  fallback: {event.from_model} failed ({type(event.error).__name__}), ", end="")
    print(f"trying {event.to_model}")


def main() -> None:
    with XRoute(on_fallback=announce) as client:
        reply = client.chat.completions.create(model=CHAIN, messages=QUESTION)
        route = reply.route
        assert route is not None
        for attempt in route.attempts:
            print(f"attempt: {attempt.describe()}")
        print(f"served by {route.model}: {reply.choices[0].message.content}")

        # Streams fall back the same way, as long as no text has arrived yet.
        with client.chat.completions.create(model=CHAIN, messages=QUESTION, stream=True) as stream:
            text = "".join(stream.text_stream)
        print(f"streamed by {stream.route.model}: {text[:60]}…")

        # When every model fails, one error lists every attempt.
        try:
            client.chat.completions.create(
                model=["acme/no-such-model", "acme/nor-this-one"], messages=QUESTION
            )
        except AllModelsFailedError as err:
            print(f"as expected, {len(err.attempts)} attempts failed:")
            for attempt in err.attempts:
                print(f"  {attempt.model}: {attempt.status_code} {attempt.error_type}")


if __name__ == "__main__":
    main()
