"""What every stage command shares: params loading, one-line errors, progress, output."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from tqdm import tqdm

from ttmbio.errors import ConfigError, TtmbioError, validation_reason
from ttmbio.params import Params

P = ParamSpec("P")
R = TypeVar("R")

ParamsOption = typer.Option(Path("params.yaml"), "--params", help="params file to read.")


def one_line_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn a :class:`TtmbioError` into ``error: <message>`` on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except TtmbioError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(code=2) from None

    return wrapper


def progress(items: Iterable[Any], total: int, label: str) -> Iterator[Any]:
    """A tqdm bar on stderr, which ``dvc repro`` passes through to the user."""
    yield from tqdm(
        items,
        total=total,
        desc=label,
        unit="it",
        file=sys.stderr,
        dynamic_ncols=True,
        mininterval=0.5,
    )


def warn(lines: Iterable[str]) -> None:
    for line in lines:
        typer.echo(f"warning: {line}", err=True)


def live_logger(folder: Path) -> Callable[[], Any]:
    """A dvclive ``Live`` for ``folder`` made on call: the training stages call it only once
    their run is built, so a run refused before training writes no metrics folder."""

    def new() -> Any:
        from dvclive import Live

        return Live(dir=str(folder), save_dvc_exp=False, dvcyaml=None)

    return new


def override_finetune(cfg: Params, **values: Any) -> Params:
    """``cfg`` with the command-line options given (not None) in its finetune section,
    validated like params.yaml; a bad value is a one-line error naming the option."""
    given = {k: v for k, v in values.items() if v is not None}
    if not given:
        return cfg
    try:
        finetune = cfg.finetune.model_validate({**cfg.finetune.model_dump(), **given})
    except ValidationError as err:
        reasons = "; ".join(validation_reason(e) for e in err.errors())
        options = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in given.items())
        raise ConfigError(f"{options}: {reasons}") from None
    return cfg.model_copy(update={"finetune": finetune})
