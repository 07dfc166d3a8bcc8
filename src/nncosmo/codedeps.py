"""Which library modules a rule's script runs, so that an edit to one of them reruns the rule.

Snakemake tracks a rule's script file but not the modules it imports. `code_digests` follows the
import graph from a script, through every module of the package it reaches (imports at module
level and inside functions alike, read with `ast`, nothing executed), and returns a hash of
each module's code (`code_digest`: its syntax tree without docstrings, so comments, docstrings
and layout do not count). The Snakefile passes that as a rule parameter, so Snakemake's params
trigger reruns the rule, and everything downstream of it, exactly when the code of a module it
imports changes; touching a file, checking out identical content or editing only its comments
and docstrings reruns nothing.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from collections.abc import Callable, Iterable
from importlib.util import resolve_name
from pathlib import Path


def module_file(name: str, package_dir: Path) -> Path | None:
    """Source file of the dotted module `name` inside the package at `package_dir`, if any."""
    parts = name.split(".")
    if parts[0] != package_dir.name:
        return None
    base = package_dir.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_names(source: Path, module: str | None = None) -> set[str]:
    """Every dotted name the file imports, or could import as a submodule (`from p import m`).

    `module` is the file's own dotted name, needed to resolve relative imports.
    """
    names = set()
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module if source.name == "__init__.py" else module.rpartition(".")[0]
                base = resolve_name("." * node.level + base, package)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def imported_modules(
    script: str | Path, package_dir: str | Path, names: Callable = imported_names
) -> dict[str, Path]:
    """The modules of the package at `package_dir` that `script` runs, directly or through
    each other, with the parent packages whose `__init__` an import executes: {name: file}.
    `names` reads a file's imports (`imported_names`, or a memoised one: `rule_code`)."""
    package_dir = Path(package_dir)
    found: dict[str, Path] = {}
    pending = [(Path(script), None)]
    while pending:
        source, module = pending.pop()
        for name in names(source, module):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                parent = ".".join(parts[:i])
                if parent not in found and (path := module_file(parent, package_dir)):
                    found[parent] = path
                    pending.append((path, parent))
    return dict(sorted(found.items()))


DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def without_docstrings(tree: ast.Module) -> ast.Module:
    """`tree` with the docstring (a leading string statement) of its module, every class and
    every function removed, in place. Nothing in the package reads `__doc__`."""
    for node in ast.walk(tree):
        if isinstance(node, DOCUMENTED) and node.body and is_string(node.body[0]):
            node.body = node.body[1:]
    return tree


def is_string(statement: ast.stmt) -> bool:
    """Whether `statement` is a bare string literal (a docstring where it comes first)."""
    value = getattr(statement, "value", None)
    return (
        isinstance(statement, ast.Expr)
        and isinstance(value, ast.Constant)
        and isinstance(value.value, str)
    )


def code_digest(path: str | Path) -> str:
    """First 12 hex digits of the sha256 of `ast.dump` of the file's syntax tree without
    docstrings: positions, comments and formatting are not in the dump, so only code counts
    (a new Python version may dump differently, and then everything reruns once)."""
    path = Path(path)
    tree = without_docstrings(ast.parse(path.read_text(), filename=str(path)))
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:12]


def code_digests(
    script: str | Path,
    package_dir: str | Path,
    digest: Callable = code_digest,
    names: Callable = imported_names,
) -> dict[str, str]:
    """{module: `code_digest` of its file} for every package module `script` runs (see
    `imported_modules`; `digest` and `names` may be memoised, `rule_code`)."""
    modules = imported_modules(script, package_dir, names)
    return {name: digest(path) for name, path in modules.items()}


def rule_code(scripts: Iterable[str | Path], package_dir: str | Path) -> dict[str, dict]:
    """{script file name: {"script": its `code_digest`, **`code_digests`}} for every rule script
    (the Snakefile's CODE), each file parsed once for its imports and once for its digest however
    many scripts run it (per script, the shared modules took ~1 s at every Snakemake start)."""
    digest, names = functools.cache(code_digest), functools.cache(imported_names)
    return {
        Path(script).name: {
            "script": digest(script),
            **code_digests(script, package_dir, digest, names),
        }
        for script in scripts
    }
