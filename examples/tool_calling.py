"""Tool calling, round trip: the model asks for a function, we run it, it answers with the result.

    python examples/tool_calling.py

The shapes are the openai package's: `tools=[...]` in, `message.tool_calls` out, and a
``{"role": "tool", "tool_call_id": ...}`` message back with each result.
"""

import json

from xroute import XRoute

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "e.g. Paris"}},
                "required": ["city"],
            },
        },
    }
]


def get_weather(city: str) -> dict[str, object]:
    return {"city": city, "forecast": "sunny", "celsius": 21}


FUNCTIONS = {"get_weather": get_weather}


def main() -> None:
    messages: list = [{"role": "user", "content": "What is the weather in Paris? Use get_weather."}]
    with XRoute() as client:
        for _ in range(5):  # a model may chain calls; never loop forever
            reply = client.chat.completions.create(
                model=["openai/gpt-4o-mini", "anthropic/claude-3-haiku"],
                messages=messages,
                tools=TOOLS,
            )
            message = reply.choices[0].message
            if not message.tool_calls:
                print(f"answer: {message.content}")
                break
            # The assistant turn goes back into the history as it is, then one result per call.
            messages.append(message)
            for call in message.tool_calls:
                arguments = json.loads(call.function.arguments or "{}")
                result = FUNCTIONS[call.function.name](**arguments)
                print(f"tool call: {call.function.name}({arguments}) -> {result}")
                messages.append(
                    {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}
                )
        print(client.usage)


if __name__ == "__main__":
    main()
