"""The package surface: exports, the executable docstring, a light import, the CLI parser."""

from __future__ import annotations

import doctest
import subprocess
import sys

import pytest

import xroute.testing
from xroute.testing import _cli


def test_public_names() -> None:
    assert xroute.testing.__all__ == sorted(xroute.testing.__all__)
    for name in xroute.testing.__all__:
        obj = getattr(xroute.testing, name)
        if name != "FailureKind":  # a Literal alias, documented by the string after it
            assert isinstance(obj, type) and obj.__doc__, name


def test_package_docstring_example_runs() -> None:
    result = doctest.testmod(xroute.testing, raise_on_error=False)
    assert result.attempted >= 8
    assert result.failed == 0


def test_import_is_light() -> None:
    code = (
        "import sys, xroute.testing, xroute.testing.pytest_plugin; "
        "heavy = {'uvicorn', 'xroute.testing._server', 'xroute.testing._transport', "
        "'xroute.testing._gateway', 'xroute.testing._engine'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_lazy_exports() -> None:
    assert "MockGateway" in dir(xroute.testing)
    with pytest.raises(AttributeError, match="NoSuchThing"):
        xroute.testing.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018


def test_cli_parser_defaults_and_options() -> None:
    defaults = _cli.build_parser().parse_args([])
    assert (defaults.host, defaults.port, defaults.seed) == ("127.0.0.1", 8080, 0)
    assert (defaults.api_key, defaults.any_key, defaults.time_scale) == ("test-key", False, 1.0)
    custom = _cli.build_parser().parse_args(
        ["--port", "0", "--seed", "9", "--any-key", "--time-scale", "0"]
    )
    assert (custom.port, custom.seed, custom.any_key, custom.time_scale) == (0, 9, True, 0.0)
