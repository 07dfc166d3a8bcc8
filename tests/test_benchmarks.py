"""benchmarks/gpu_training.py runs where the GPU machine has no snakemake, h5netcdf, jsonschema
or scikit-learn (its import chain and its digits stand-in)."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ABSENT = ("snakemake", "h5netcdf", "jsonschema", "sklearn")

SCRIPT = f"""
import runpy, sys
for name in {ABSENT!r}:
    sys.modules[name] = None  # any import of it raises ImportError
script = runpy.run_path("benchmarks/gpu_training.py")
spec = {{"kind": "digits", "n_samples": 128, "classes": [3, 8], "seed": 2}}
x, y, source = script["build_data"]("digits", spec, False)
assert source == "stand-in" and x.shape == (128, 64) and set(y) == {{-1.0, 1.0}}, (source, x.shape)
assert not any(name in sys.modules and sys.modules[name] for name in {ABSENT!r})
print("ok")
"""


def test_gpu_benchmark_needs_none_of_the_packages_the_device_lacks():
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-3000:]
