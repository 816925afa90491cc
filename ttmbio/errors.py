"""Errors whose message is the one line a user sees.

Each names the file or param at fault and what to do about it; the CLI prints
``str(error)`` and exits non-zero, without a traceback.
"""

from __future__ import annotations

from typing import Any


class TtmbioError(Exception):
    """Base class: a failure the user can act on, described in one line."""


class ConfigError(TtmbioError):
    """A params value (or combination) that cannot work; raised before any work starts."""


class SourceError(TtmbioError):
    """A data source (file, folder, URL) that cannot be read."""


class CaseError(SourceError):
    """One case or record cannot be used; the stage skips it and reports it."""


def validation_reason(error: dict[str, Any]) -> str:
    """One pydantic error's message, without the "Value error, " prefix pydantic gives the
    messages of our own validators: the part of a one-line error that says what is wrong."""
    return str(error["msg"]).removeprefix("Value error, ")


def first_line(err: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type name when empty), cut to ``limit``
    characters: what goes inside the parentheses of a one-line error about a file."""
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:limit]
