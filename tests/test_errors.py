"""The one-line pieces of error messages."""

from __future__ import annotations

from ttmbio.errors import first_line


def test_first_line_is_the_first_line_cut_or_the_type_name() -> None:
    assert first_line(ValueError("bad header\nTraceback detail")) == "bad header"
    assert first_line(ValueError("  \n")) == "ValueError"
    assert first_line(OSError("x" * 500)) == "x" * 200
    assert first_line(OSError("x" * 500), limit=300) == "x" * 300
