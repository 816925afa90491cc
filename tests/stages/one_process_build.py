"""Run every stage of the pipeline in the current folder as the same ``ttmbio`` commands,
in ``dvc repro``'s order, inside this one process (``python -m tests.stages.one_process_build``;
see ``tests/stages/repo.py::repro_in_process``)."""

from __future__ import annotations

import shlex
import sys

from ttmbio_stages.cli import app


def stage_commands(root: str) -> list[tuple[str, list[str]]]:
    """(stage name, its commands) for every stage, dependencies first, as DVC resolves them
    from dvc.yaml (foreach/matrix items included)."""
    import networkx as nx  # here: run_app's callers need neither
    from dvc.repo import Repo

    with Repo(root) as project:
        stages = list(nx.dfs_postorder_nodes(project.index.graph))  # dvc repro's order
        return [(s.name, [s.cmd] if isinstance(s.cmd, str) else list(s.cmd)) for s in stages]


def run_app(args: list[str]) -> int | str:
    """Run ``ttmbio <args>`` through the console script's Typer app in this process; return its
    exit status (the app ends with SystemExit: 0 on success, 2 after a one-line error, 130
    after Ctrl-C)."""
    try:
        app(args, prog_name="ttmbio")
    except SystemExit as done:
        return 0 if done.code is None else done.code
    return 0


def run_command(cmd: str) -> int | str:
    """Run ``cmd`` (``ttmbio ...``) as the shell would split it; return its exit status."""
    program, *args = shlex.split(cmd)
    if program != "ttmbio":
        raise ValueError(f"{cmd}: not a ttmbio command")
    return run_app(args)


def main() -> None:
    for name, cmds in stage_commands("."):
        print(f"Running stage '{name}'", flush=True)
        for cmd in cmds:
            code = run_command(cmd)
            if code != 0:
                sys.exit(f"stage {name}: `{cmd}` failed ({code})")


if __name__ == "__main__":
    main()
