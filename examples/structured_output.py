"""Structured output: ask for JSON that fits a schema, and parse it into a pydantic model.

    python examples/structured_output.py

`response_format` is passed through as in the openai package. The `Cheapest` policy with
`requires="structured_outputs"` only considers models whose catalog entry supports schemas.
"""

from pydantic import BaseModel

from xroute import Cheapest, XRoute


class City(BaseModel):
    name: str
    country: str
    population: int


def main() -> None:
    with XRoute() as client:
        reply = client.chat.completions.create(
            model=Cheapest(requires="structured_outputs"),
            messages=[{"role": "user", "content": "Describe the capital of France."}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "city", "schema": City.model_json_schema()},
            },
        )
        city = City.model_validate_json(reply.choices[0].message.content or "")
        print(repr(city))
        print(f"{city.name} ({city.country}): population {city.population:,}")
        if reply.route is not None:
            print(f"[{reply.route.model}]")


if __name__ == "__main__":
    main()
