"""The typed files stages hand each other, read one way.

Each such file (the split file, a fine-tuning run's summary, a calibrator) is a pydantic
model whose ``format`` tag names its schema version. :func:`read_versioned` reads any of
them with the same one-line errors: missing, not JSON, not an object, of another format
version (saying which ttmbio wrote it when the file records that), or not matching the
schema (saying where and what). :func:`first_error` turns a pydantic error into the
``where: what`` part of such a line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from ttmbio.errors import SourceError, TtmbioError, validation_reason

Model = TypeVar("Model", bound=BaseModel)


def first_error(err: ValidationError) -> str:
    """``loc: reason`` of a validation error's first entry (``a.b.0: Field required``)."""
    first = err.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc'])}: {validation_reason(first)}"


def read_versioned(
    path: Path,
    model: type[Model],
    fmt: str,
    what: str,
    rerun: str,
    missing: str,
    error: type[TtmbioError] = SourceError,
    untagged_is_current: bool = False,
    fix: str | None = None,
) -> Model:
    """``path`` as a ``model`` of format ``fmt``, or one line naming the file, the problem
    and the command that writes it again (``rerun``). ``missing`` is what to say of a file
    that is not there (always a SourceError); other problems raise ``error``.
    ``untagged_is_current``: a file without a ``format`` key was written before formats
    were recorded, with the current schema, and is read. ``fix`` replaces the closing
    "re-run `rerun`" advice where a plain re-run is not enough."""
    path = Path(path)
    advice = fix or f"re-run `{rerun}`"
    if not path.is_file():
        raise SourceError(f"{path}: {missing}")
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise error(f"{path}: not JSON ({err}); {advice}") from None
    if not isinstance(raw, dict):
        raise error(f"{path}: not a JSON object (a {type(raw).__name__}); {advice}")
    if untagged_is_current:
        raw.setdefault("format", fmt)
    found = raw.get("format")
    if found != fmt:
        written = raw.get("ttmbio_version")
        by = f"ttmbio {written}" if written else "another version of ttmbio"
        raise error(
            f"{path}: {what} format {found!r} (written by {by}); this ttmbio reads {fmt!r}: "
            f"{advice}"
        )
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise error(f"{path}: not a valid {what} ({first_error(err)}); {advice}") from None
