"""The base of every response model: unknown fields are kept, never dropped or fatal."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class XRouteModel(BaseModel):
    """A pydantic model that keeps fields it does not know (see `model_extra`).

    Gateways add fields (`provider`, `usage.cost`, ...) faster than any SDK can name them;
    keeping them lets callers read what their gateway sends without waiting for a release.
    """

    # defer_build: schemas are built on first use, not at import (import time is a feature).
    model_config = ConfigDict(
        extra="allow", populate_by_name=True, protected_namespaces=(), defer_build=True
    )
