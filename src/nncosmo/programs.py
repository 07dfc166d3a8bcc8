"""Traced programs kept between jobs: trace a jitted function once, run it in every job.

JAX's persistent compilation cache spares a job compiling a program, not tracing it: the cache
key is computed from the traced program. Tracing a diffrax integration is ~0.5 s of Python, and
importing diffrax for it ~0.4 s more, in every cosmology job. `StoredProgram` exports the traced
program (`jax.export`, StableHLO) into the folder that the environment variable `PROGRAMS_ENV`
names (the Snakefile sets it for every job, beside the compilation cache:
`nncosmo.config.jax_cache_env`); a later job with the same key loads and runs that export and
never traces the function or imports what tracing needs. Compiling the loaded program still goes
through the compilation cache.

Key: the function's name; the shapes and dtypes of its arguments; the source of every module of
this package (any edit to nncosmo misses: conservative, never stale); the versions of jax, jaxlib
and the packages the function traces through; the backend, `jax_enable_x64` and `EQX_ON_ERROR`.
A miss exports, writes the file atomically and runs the export too, so every job runs the same
program. A program with host callbacks (equinox's checks under `EQX_ON_ERROR=raise`) cannot be
exported: it runs jitted and nothing is stored. Deleting the folder is always safe. Without
`PROGRAMS_ENV` (tests, notebooks) the function runs as jitted.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from functools import cache
from importlib import metadata
from pathlib import Path

import jax

from nncosmo.io import write_atomically

PROGRAMS_ENV = "NNCOSMO_PROGRAMS"
PACKAGE_DIR = Path(__file__).parent


@cache
def package_digest() -> str:
    """sha256 of the source of every module of nncosmo (file names and contents, sorted)."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def argument_key(args) -> tuple:
    """What a trace depends on of its arguments: their abstract values (shape, dtype, weak type)
    and their pytree structure."""
    return tuple(str(jax.typeof(leaf)) for leaf in jax.tree.leaves(args)), str(
        jax.tree.structure(args)
    )


def program_key(name: str, arguments: tuple, packages: tuple[str, ...]) -> str:
    """sha256 of everything an export of `name` depends on (module docstring), for arguments
    with the `argument_key` `arguments`."""
    fields = {
        "name": name,
        "arguments": arguments,
        "nncosmo": package_digest(),
        "versions": {p: metadata.version(p) for p in ("jax", "jaxlib", *packages)},
        "backend": jax.default_backend(),
        "x64": bool(jax.config.jax_enable_x64),
        "EQX_ON_ERROR": os.environ.get("EQX_ON_ERROR"),
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


class StoredProgram:
    """`function(*args)` (jitted), through the export stored for its key where `PROGRAMS_ENV`
    names a folder; `packages` are the distributions it traces through (part of the key)."""

    def __init__(self, name: str, function: Callable, packages: tuple[str, ...] = ()):
        self.name, self.function, self.packages = name, jax.jit(function), packages
        self.loaded: dict[tuple, Callable] = {}  # per `argument_key`: the exported program

    def __call__(self, *args):
        folder = os.environ.get(PROGRAMS_ENV)
        if not folder:
            return self.function(*args)
        arguments = argument_key(args)
        if arguments not in self.loaded:
            exported = self.exported(Path(folder), arguments, args)
            self.loaded[arguments] = self.function if exported is None else jax.jit(exported.call)
        return self.loaded[arguments](*args)

    def exported(self, folder: Path, arguments: tuple, args) -> jax.export.Exported | None:
        """The stored export for `args` (`argument_key` `arguments`), exported and stored first
        on a miss; None for a program that cannot be exported (host callbacks)."""
        path = folder / f"{self.name}-{program_key(self.name, arguments, self.packages)[:32]}.jax"
        if path.is_file():
            return jax.export.deserialize(bytearray(path.read_bytes()))
        try:
            exported = jax.export.export(self.function)(*args)
        except NotImplementedError:  # jax: "serialization of host_callbacks is not yet implemented"
            return None
        folder.mkdir(parents=True, exist_ok=True)
        # jobs started together may store the same program: each renames its own file
        write_atomically(path, lambda tmp: tmp.write_bytes(exported.serialize()), shared=True)
        return exported


def lazy_import(name: str):
    """The module `name`, imported on first attribute access (importlib.util.LazyLoader, the
    recipe of the importlib documentation): a job that loads its stored programs never pays for
    the imports that only tracing needs."""
    import importlib.util
    import sys

    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
