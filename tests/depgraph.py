"""The project source files each DVC stage's command runs, derived statically with ``ast``.

A stage's ``cmd`` (``ttmbio <command> ...`` or ``ttmbio <group> <command> ...``) is mapped to
its Typer function through the registrations in ``stages/cli.py``; from that function the
closure of imported project files (``ttmbio/`` and ``stages/``) is collected:

* the stage module (``stages/<x>.py``): its top-level statements' imports, the imports anywhere
  in the command function (body, decorators, defaults), and, recursively, those of the
  module-level functions and classes of the same module that the function refers to by name.
  Other commands of the same module are not pulled in (``stages/forecast.py`` holds several).
* every other project module (``ttmbio/...``, ``stages/common.py``): every import anywhere in the
  file, top-level or function-local, followed transitively. Importing ``a.b.c`` runs the
  ``__init__.py`` of ``a`` and ``a.b`` as well; an ``__init__.py`` counts (and its imports are
  followed) only when it holds more than a docstring, ``from __future__`` and ``__version__``.

Third-party and standard-library modules are ignored. :func:`check_deps` then reports every
closure file that no ``deps:`` entry of the stage covers (equal path or a parent folder).
"""

from __future__ import annotations

import ast
import functools
import inspect
import re
import shlex
import symtable
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
# import name -> folder of the top-level packages whose files are project source (the CLI's
# folder stages/ is installed as ttmbio_stages: pyproject's package-dir)
PACKAGES = {"ttmbio": "ttmbio", "ttmbio_stages": "stages"}
# stages/cli.py only registers the commands (``app.command()(fn)``, ``app.add_typer``): every
# stage imports it through the console script, but a change there cannot change what a stage
# computes, only which function a command name reaches, and that mapping is what this module
# reads. Listing it as a dep of every stage would rerun the whole pipeline whenever any command
# is added, so it (and ``python -m ttmbio_stages``'s ``__main__``) is left out of every closure.
DISPATCHERS = frozenset({"stages/cli.py", "stages/__main__.py"})
_INTERPOLATION = re.compile(r"\$\{\s*([^}]+?)\s*\}")


# ------------------------------------------------------------------------------------ modules
@functools.cache
def _parse(rel: str) -> ast.Module:
    return ast.parse((REPO / rel).read_text(), filename=rel)


def module_file(module: str) -> str | None:
    """``a.b.c`` -> ``a/b/c.py`` or ``a/b/c/__init__.py`` (relative to the repo), or None."""
    parts = module.split(".")
    if parts[0] not in PACKAGES:
        return None
    base = Path(PACKAGES[parts[0]], *parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if (REPO / candidate).is_file():
            return candidate.as_posix()
    return None


def _module_name(rel: str) -> str:
    parts = list(Path(rel).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    folders = {folder: name for name, folder in PACKAGES.items()}
    return ".".join([folders.get(parts[0], parts[0]), *parts[1:]])


def _is_trivial_init(rel: str) -> bool:
    """An ``__init__.py`` with nothing but a docstring, ``from __future__`` and ``__version__``."""
    for stmt in _parse(rel).body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            continue
        targets = (
            stmt.targets
            if isinstance(stmt, ast.Assign)
            else [stmt.target]
            if isinstance(stmt, ast.AnnAssign)
            else []
        )
        if targets and all(isinstance(t, ast.Name) and t.id == "__version__" for t in targets):
            continue
        return False
    return True


def _files_run_by_import(module: str) -> list[str]:
    """The files that importing ``module`` executes: its packages' ``__init__.py`` and itself."""
    parts = module.split(".")
    files = []
    for i in range(1, len(parts) + 1):
        rel = module_file(".".join(parts[:i]))
        if rel is None:
            break  # not a project module (or a name, not a module)
        files.append(rel)
    return files


def _imported_modules(rel: str, node: ast.AST) -> Iterator[str]:
    """Modules the imports inside ``node`` (of file ``rel``) name, and candidate submodules."""
    package = _module_name(rel)
    if not rel.endswith("__init__.py"):
        package = package.rpartition(".")[0]
    for sub in ast.walk(node):
        if isinstance(sub, ast.Import):
            for alias in sub.names:
                yield alias.name
        elif isinstance(sub, ast.ImportFrom):
            if sub.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (sub.level - 1)]
                base = ".".join([*anchor, *([sub.module] if sub.module else [])])
            else:
                base = sub.module or ""
            yield base
            for alias in sub.names:
                if alias.name != "*":
                    yield f"{base}.{alias.name}"  # a submodule, if such a file exists


def _files_imported_by(rel: str, node: ast.AST) -> set[str]:
    files: set[str] = set()
    for module in _imported_modules(rel, node):
        if module.split(".")[0] in PACKAGES:
            files.update(_files_run_by_import(module))
    return files


def _close(files: Iterable[str], seen: set[str]) -> None:
    """Add ``files`` and everything they import (library rule: every import in the file)."""
    todo = list(files)
    while todo:
        rel = todo.pop()
        if rel in seen or rel in DISPATCHERS:
            continue
        if rel.endswith("__init__.py") and _is_trivial_init(rel):
            continue
        seen.add(rel)
        todo.extend(_files_imported_by(rel, _parse(rel)))


# --------------------------------------------------------------------------- stage modules
def _module_level_defs(tree: ast.Module) -> dict[str, ast.AST]:
    return {
        stmt.name: stmt
        for stmt in tree.body
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


def _tables(rel: str) -> dict[str, symtable.SymbolTable]:
    """Module-level function/class name -> its symbol table."""
    return {t.get_name(): t for t in _symtable(rel).get_children()}


@functools.cache
def _symtable(rel: str) -> symtable.SymbolTable:
    return symtable.symtable((REPO / rel).read_text(), rel, "exec")


def _global_names(table: symtable.SymbolTable) -> set[str]:
    """Names a function/class body (and the scopes nested in it) reads from the module."""
    names = {s.get_name() for s in table.get_symbols() if s.is_global()}
    for child in table.get_children():
        names |= _global_names(child)
    return names


def _outer_names(node: ast.AST) -> set[str]:
    """Names read in the module scope by a def: its decorators, defaults and base classes."""
    outer: list[ast.AST] = list(getattr(node, "decorator_list", []))
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        outer += [d for d in (*node.args.defaults, *node.args.kw_defaults) if d is not None]
    if isinstance(node, ast.ClassDef):
        outer += [*node.bases, *(k.value for k in node.keywords)]
    return {n.id for expr in outer for n in ast.walk(expr) if isinstance(n, ast.Name)}


@functools.cache
def command_closure(rel: str, function: str) -> frozenset[str]:
    """Project files that command ``function`` of stage module ``rel`` imports, transitively."""
    tree = _parse(rel)
    defs = _module_level_defs(tree)
    tables = _tables(rel)
    if function not in defs:
        raise LookupError(f"{rel}: no module-level function {function!r}")
    direct: set[str] = set()
    for stmt in tree.body:  # the module's own top-level code runs whatever command is chosen
        if stmt not in defs.values():
            direct |= _files_imported_by(rel, stmt)
    # the command and, by scope (a parameter named like another command does not count), the
    # module-level functions and classes it refers to
    reached, todo = set(), [function]
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        direct |= _files_imported_by(rel, defs[name])
        used = _global_names(tables[name]) | _outer_names(defs[name])
        todo.extend(used & defs.keys())
    closure = {rel}
    _close(direct - {rel}, closure)
    return frozenset(closure)


# ---------------------------------------------------------------------------- the commands
def _typer_name(name: str | None, callback: Any) -> str:
    return name or callback.__name__.lower().replace("_", "-")  # Typer's own default


@functools.cache
def commands() -> dict[tuple[str, ...], tuple[str, str]]:
    """``("finetune",)`` or ``("forecast", "data")`` -> (stage module file, function name)."""
    from ttmbio_stages.cli import app

    def where(callback: Any) -> tuple[str, str]:
        fn = inspect.unwrap(callback)  # through @one_line_errors (functools.wraps)
        path = Path(inspect.getsourcefile(fn)).resolve().relative_to(REPO)
        return path.as_posix(), fn.__name__

    found: dict[tuple[str, ...], tuple[str, str]] = {}
    for info in app.registered_commands:
        found[(_typer_name(info.name, info.callback),)] = where(info.callback)
    for group in app.registered_groups:
        for info in group.typer_instance.registered_commands:
            found[(group.name, _typer_name(info.name, info.callback))] = where(info.callback)
    return found


def stage_command(cmd: str | list[str]) -> tuple[str, str]:
    """A stage's ``cmd`` (the first, for a list of commands) -> (stage module file, function
    name)."""
    text = cmd[0] if isinstance(cmd, list) else cmd
    words = shlex.split(text)
    if not words or words[0] != "ttmbio":
        raise ValueError(f"not a `ttmbio ...` command: {text!r}")
    table = commands()
    for n in (2, 1):
        key = tuple(words[1 : 1 + n])
        if key in table:
            return table[key]
    raise LookupError(f"no ttmbio command for {text!r}")


def stage_closure(cmd: str | list[str]) -> frozenset[str]:
    """The closure of a stage's command, or the union over a list of commands."""
    commands_run = cmd if isinstance(cmd, list) else [cmd]
    return frozenset().union(*(command_closure(*stage_command(c)) for c in commands_run))


# ------------------------------------------------------------------------------- dvc.yaml
def load_dvc_yaml() -> dict:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())


def load_params() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def _lookup(params: dict, dotted: str) -> Any:
    value: Any = params
    for key in dotted.split("."):
        value = value[key]
    return value


def resolve_dep(dep: str, params: dict) -> str | None:
    """Interpolate ``${a.b}`` from params.yaml; None where that is impossible (``${item.x}``)."""
    try:
        return _INTERPOLATION.sub(lambda m: str(_lookup(params, m.group(1))), dep)
    except (KeyError, TypeError):
        return None  # a matrix item or an unknown variable: a data path, never source code


def _normalize(path: str) -> str:
    return path.strip().removeprefix("./").rstrip("/")


def _dep_paths(entry: str | dict) -> list[str]:
    return [entry] if isinstance(entry, str) else list(entry)  # `- path: {options}`


def stage_deps(stage: dict, params: dict) -> list[str]:
    deps = []
    for entry in (stage.get("do", stage)).get("deps", []) or []:
        for dep in _dep_paths(entry):
            resolved = resolve_dep(dep, params)
            if resolved is not None:
                deps.append(_normalize(resolved))
    return deps


def covers(dep: str, path: str) -> bool:
    return path == dep or path.startswith(dep + "/")


def stages_covering(path: str, document: dict, params: dict | None = None) -> list[str]:
    """Stages of ``document`` whose deps cover ``path``."""
    params = load_params() if params is None else params
    return [
        name
        for name, stage in document["stages"].items()
        if any(covers(dep, path) for dep in stage_deps(stage, params))
    ]


def missing_deps(document: dict, params: dict | None = None) -> dict[str, list[str]]:
    """Stage name -> sorted closure files that none of its deps cover (only stages with gaps)."""
    params = load_params() if params is None else params
    missing: dict[str, list[str]] = {}
    for name, stage in document["stages"].items():
        body = stage.get("do", stage)
        deps = stage_deps(stage, params)
        gaps = sorted(f for f in stage_closure(body["cmd"]) if not any(covers(d, f) for d in deps))
        if gaps:
            missing[name] = gaps
    return missing


def format_missing(missing: dict[str, list[str]]) -> str:
    return "\n".join(
        f"stage {name!r} imports code its deps do not cover: {', '.join(paths)}"
        for name, paths in missing.items()
    )
