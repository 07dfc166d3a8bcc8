"""Stored programs (nncosmo.programs): traced once, loaded by later jobs, never stale."""

import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nncosmo import programs
from nncosmo.config import jax_cache_env
from nncosmo.programs import PROGRAMS_ENV, StoredProgram

jax.config.update("jax_enable_x64", True)


def counting_program(name="test.damped"):
    """A StoredProgram and the number of times its Python function has been traced."""
    traces = []

    def damped(x, rate):
        traces.append(1)
        return jax.lax.fori_loop(0, 50, lambda _, y: y - rate * jnp.sin(y), x)

    return StoredProgram(name, damped), traces


def test_without_a_folder_it_is_the_jitted_function(monkeypatch):
    monkeypatch.delenv(PROGRAMS_ENV, raising=False)
    program, traces = counting_program()
    x = np.linspace(0.0, 3.0, 7)
    expected = x.copy()
    for _ in range(50):  # the program written out
        expected = expected - 0.3 * np.sin(expected)
    np.testing.assert_allclose(program(x, 0.3), expected, rtol=1e-14, atol=1e-15)
    assert traces == [1]


def test_a_later_job_loads_the_program_without_tracing_and_gets_the_same_result(
    tmp_path, monkeypatch
):
    monkeypatch.setenv(PROGRAMS_ENV, str(tmp_path))
    x = np.linspace(0.0, 3.0, 7)
    first, first_traces = counting_program()
    expected = np.asarray(first(x, 0.3))
    assert first_traces == [1] and len(list(tmp_path.iterdir())) == 1
    later, later_traces = counting_program()  # a new job: a fresh object, the same folder
    got = np.asarray(later(x, 0.3))
    assert later_traces == []  # loaded, not traced
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got, np.asarray(jax.jit(first.function)(x, 0.3)))


def test_new_shapes_or_an_edited_package_trace_again(tmp_path, monkeypatch):
    monkeypatch.setenv(PROGRAMS_ENV, str(tmp_path))
    counting_program()[0](np.zeros(7), 0.3)
    program, traces = counting_program()
    program(np.zeros(8), 0.3)  # other shapes: another key
    assert traces == [1] and len(list(tmp_path.iterdir())) == 2
    monkeypatch.setattr(programs, "package_digest", lambda: "edited source")
    program, traces = counting_program()
    program(np.zeros(7), 0.3)
    assert traces == [1] and len(list(tmp_path.iterdir())) == 3


def test_storing_a_program_leaves_another_jobs_unfinished_write_alone(tmp_path, monkeypatch):
    """Two jobs started together may miss and store the same program: the one that renames its
    file first must not delete the other's temporary file, which the other is about to rename."""
    monkeypatch.setenv(PROGRAMS_ENV, str(tmp_path))
    x = np.linspace(0.0, 3.0, 7)
    counting_program()[0](x, 0.3)
    (stored,) = tmp_path.iterdir()
    stored.unlink()  # as if this job found no program: the other job still writes it
    other = tmp_path / f".{stored.name}.0123abcd.tmp"
    other.write_bytes(b"half of the other job's export")
    counting_program()[0](x, 0.3)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([other.name, stored.name])


def test_the_key_covers_code_versions_and_settings(monkeypatch):
    args = programs.argument_key((np.zeros(3), 0.5))
    key = programs.program_key("f", args, ())
    assert programs.program_key("f", args, ()) == key
    assert programs.program_key("g", args, ()) != key
    float32 = programs.argument_key((np.zeros(3, np.float32), 0.5))
    assert programs.program_key("f", float32, ()) != key
    assert programs.program_key("f", args, ("numpy",)) != key
    x = np.zeros(3)  # the same leaves in another pytree: another trace
    assert programs.argument_key(({"rate": x},)) != programs.argument_key(({"scale": x},))
    monkeypatch.setenv(
        "EQX_ON_ERROR", "raise" if os.environ.get("EQX_ON_ERROR") != "raise" else "nan"
    )
    assert programs.program_key("f", args, ()) != key


def test_every_job_gets_the_folder(tmp_path):
    env = jax_cache_env(tmp_path)
    assert env[PROGRAMS_ENV] == str((tmp_path / "programs").absolute())


def test_jobs_keep_equinox_errors_as_nan_unless_the_user_asks_to_raise(tmp_path, monkeypatch):
    """The default (no host callback, so the integrator's programs are cached) yields to a user's
    EQX_ON_ERROR=raise, which `check_solved`'s message tells them to set for diffrax's message."""
    monkeypatch.delenv("EQX_ON_ERROR", raising=False)
    assert jax_cache_env(tmp_path)["EQX_ON_ERROR"] == "nan"
    monkeypatch.setenv("EQX_ON_ERROR", "raise")
    assert jax_cache_env(tmp_path)["EQX_ON_ERROR"] == "raise"


def test_jobs_share_a_gpu_unless_the_user_asks_for_preallocation(tmp_path, monkeypatch):
    """JAX's default preallocates 75 % of a GPU's memory per process, a common cause of
    out-of-memory failures when jobs share one GPU; a user's own setting is kept."""
    monkeypatch.delenv("XLA_PYTHON_CLIENT_PREALLOCATE", raising=False)
    assert jax_cache_env(tmp_path)["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    monkeypatch.setenv("XLA_PYTHON_CLIENT_PREALLOCATE", "true")
    assert jax_cache_env(tmp_path)["XLA_PYTHON_CLIENT_PREALLOCATE"] == "true"


def test_a_module_already_imported_is_returned_as_it_is():
    import colorsys

    assert programs.lazy_import("colorsys") is colorsys


@pytest.mark.parametrize("module", ["nncosmo.cosmology"])
def test_importing_the_integrator_module_does_not_import_diffrax(module):
    code = f"import sys, {module}; print('diffrax._integrate' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_key_covers_the_pytree_structure_and_x64():
    """The same leaves in another pytree trace another program; so does another x64 setting."""
    x = np.zeros(3)
    rate = programs.argument_key(({"rate": x},))
    scale = programs.argument_key(({"scale": x},))
    assert programs.program_key("f", rate, ()) != programs.program_key("f", scale, ())
    key = programs.program_key("f", rate, ())
    previous = jax.config.jax_enable_x64
    try:
        jax.config.update("jax_enable_x64", not previous)
        assert programs.program_key("f", rate, ()) != key
    finally:
        jax.config.update("jax_enable_x64", previous)


def test_a_program_with_host_callbacks_runs_jitted_and_is_not_stored(tmp_path, monkeypatch):
    """jax cannot serialise host callbacks (equinox's checks under EQX_ON_ERROR=raise): the
    function runs as jitted and nothing is written."""
    monkeypatch.setenv(PROGRAMS_ENV, str(tmp_path / "programs"))

    def doubled(x):
        jax.debug.callback(lambda value: None, x)
        return 2 * x

    program = StoredProgram("test.callback", doubled)
    np.testing.assert_array_equal(program(np.arange(3.0)), [0.0, 2.0, 4.0])
    assert not (tmp_path / "programs").exists()


def test_the_cache_folders_are_absolute_whatever_the_working_directory(tmp_path, monkeypatch):
    """A job that changes its working directory still finds both caches."""
    monkeypatch.chdir(tmp_path)
    env = jax_cache_env("cache")
    here = Path.cwd()  # tmp_path, as the operating system names it
    assert env["JAX_COMPILATION_CACHE_DIR"] == str(here / "cache")
    assert env[PROGRAMS_ENV] == str(here / "cache" / "programs")
