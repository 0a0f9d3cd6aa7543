"""Embeddings: embed a few documents and a query, then rank the documents by cosine similarity.

python examples/embeddings.py "how do I get my money back?"
"""

import math
import sys

from xroute import XRoute

DOCUMENTS = [
    "Refunds are paid within 14 days of the return reaching us.",
    "Our office is open Monday to Friday, 9:00 to 17:00.",
    "Shipping is free for orders over 50 euros.",
]


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def main(query: str) -> None:
    with XRoute() as client:
        response = client.embeddings.create(
            model="openai/text-embedding-3-small", input=[query, *DOCUMENTS]
        )
        vectors = [item.embedding for item in response.data]  # in input order
        print(f"{len(vectors)} vectors of {len(vectors[0])} dimensions")
        ranked = sorted(
            zip(DOCUMENTS, vectors[1:], strict=True),
            key=lambda pair: cosine(vectors[0], pair[1]),
            reverse=True,
        )
        for document, vector in ranked:
            print(f"{cosine(vectors[0], vector):+.3f}  {document}")
        if response.route is not None:
            print(f"[{response.route!r}]")


if __name__ == "__main__":
    main(" ".join(sys.argv[1:]) or "how do I get my money back?")
