"""The ``ttmbio`` command line: one thin Typer command per DVC stage."""
