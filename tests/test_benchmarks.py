"""benchmarks/gpu_training.py runs where the GPU machine has no snakemake, netCDF4, jsonschema
or scikit-learn (its import chain and its digits stand-in); benchmarks/floor.py counts the
FLOPs its docstring states; benchmarks/timeline.py reads a Snakemake log's job times."""

import importlib.util
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ABSENT = ("snakemake", "netCDF4", "jsonschema", "sklearn")

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


def test_floor_counts_a_tiny_config_by_hand():
    """One run, width 4, depth 2, N 10, d 3, 2 steps, checkpoints 0 and 2, kappa at steps 0 and 2
    (stride 2), K 1: F = 2 N (d w + w^2 + w) = 640; train 3 x 3F + 2 x 2F; ntk per checkpoint 2F
    + 2 N^2 (7 + 8 + 5) + 9 N^3, plus 4 (steps + 1) N K; cosmology 4 dictionaries x 2 steps x
    12 stages x (2 + 8)."""
    spec = importlib.util.spec_from_file_location(
        "floor", os.path.join(ROOT, "benchmarks", "floor.py")
    )
    floor = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(floor)
    config = {
        "datasets": {"t": {"kind": "teacher", "n_samples": 10, "n_features": 3, "noise": 0.1,
                           "target_mean": 0.0, "seed": 1}},
        "model": {"depth": 2, "activation": "erf", "bias_std": 1.0, "use_bias": True},
        "training": {"steps": 2, "checkpoints": [0, 2], "dtype": "float32", "kappa_stride": 2,
                     "kappa_dense_steps": 0, "kappa_modes": 1},
        "sweeps": {"s": {"datasets": ["t"], "widths": [4], "eta": [0.1], "beta": [0.9],
                         "seeds": [0]}},
        "split_by": ["dataset", "width"],
        "ntk": {"modes": 1},
        "figures": {"histories": []},
    }  # fmt: skip
    counted, per_job = floor.count(config)
    forward = 640
    train = 3 * 3 * forward + 2 * 2 * forward
    kernel = 2 * forward + 2 * 100 * (7 + 8 + 5) + 9 * 1000
    assert per_job == {("t", "w4"): train}
    assert counted["train"] == (train, "float32")
    assert counted["ntk"] == (2 * kernel + 4 * 3 * 10 * 1, "float32")
    assert counted["cosmology"] == (4 * 2 * 12 * 10, "float64")
    assert "simulate" not in counted


TIMELINE_LOG = """\
[Fri Nov 27 10:00:00 2026]
rule train:
    jobid: 1
    wildcards: dataset=a, job=w8
[Fri Nov 27 10:00:00 2026]
rule train:
    jobid: 2
    wildcards: dataset=b, job=w8
[Fri Nov 27 10:00:04 2026]
Finished jobid: 2 (Rule: train)
[Fri Nov 27 10:00:10 2026]
Finished jobid: 1 (Rule: train)
[Fri Nov 27 10:00:10 2026]
localrule figures:
    jobid: 3
[Fri Nov 27 10:00:13 2026]
Finished jobid: 3 (Rule: figures)
"""


def test_timeline_counts_idle_cores_of_a_log_by_hand(tmp_path):
    """Two jobs over [0, 10) and [0, 4) s, then one over [10, 13): on 2 cores, no core idles for
    4 s, one for 6 + 3 s: 9 core-seconds of a 13-s makespan."""
    spec = importlib.util.spec_from_file_location(
        "timeline", os.path.join(ROOT, "benchmarks", "timeline.py")
    )
    timeline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(timeline)
    jobs = timeline.job_spans(TIMELINE_LOG.splitlines())
    assert [(j["rule"], j["wildcards"]) for j in jobs] == [
        ("train", "dataset=a, job=w8"), ("train", "dataset=b, job=w8"), ("figures", "")
    ]  # fmt: skip
    t0 = jobs[0]["start"]
    spans = [tuple(int((j[k] - t0).total_seconds()) for k in ("start", "end")) for j in jobs]
    assert spans == [(0, 10), (0, 4), (10, 13)]
    assert timeline.idle_core_seconds(spans, cores=2) == 9
    log = tmp_path / "run.log"
    log.write_text(TIMELINE_LOG)
    out = subprocess.run(
        [sys.executable, "benchmarks/timeline.py", str(log)], cwd=ROOT, capture_output=True,
        text=True, check=True,
    ).stdout  # fmt: skip
    assert out.strip().splitlines()[-1] == "makespan 13 s, idle 9 core-s of 2 x 13"


HLO = """HloModule jit_run_all

%fused_dot (p0: f32[2,64,128], p1: f32[2,128,128]) -> f32[2,64,128] {
  %p0 = f32[2,64,128]{2,1,0} parameter(0)
  %p1 = f32[2,128,128]{2,1,0} parameter(1)
  ROOT %dot_general.3 = f32[2,64,128]{2,1,0} dot(%p0, %p1), lhs_contracting_dims={2}
}

%fused_erf (p0: f32[2,64,128]) -> f32[2,64,128] {
  %p0 = f32[2,64,128]{2,1,0} parameter(0)
  ROOT %erf.1 = f32[2,64,128]{2,1,0} erf(%p0)
}

%fused_sum (p0: f32[2,64,128], p1: f32[]) -> f32[2,128] {
  %p0 = f32[2,64,128]{2,1,0} parameter(0)
  %p1 = f32[] parameter(1)
  ROOT %reduce.2 = f32[2,128]{1,0} reduce(%p0, %p1), dimensions={1}
}

ENTRY %main (x: f32[2,64,128], w: f32[2,128,128]) -> f32[2,128] {
  %x = f32[2,64,128]{2,1,0} parameter(0)
  %w = f32[2,128,128]{2,1,0} parameter(1)
  %ynn_fusion.9 = f32[2,64,128]{2,1,0} fusion(%x, %w), kind=kCustom, calls=%fused_dot, metadata={}
  %dot.21 = f32[2,128,128]{2,1,0} dot(%x, %x), lhs_contracting_dims={1}
  %add_erf_fusion = f32[2,64,128]{2,1,0} fusion(%ynn_fusion.9), kind=kLoop, calls=%fused_erf
  %ynn_fusion.6 = f32[2,128]{1,0} fusion(%add_erf_fusion, %c), kind=kCustom, calls=%fused_sum
  %while.7 = (s64[], f32[2]{0}) while(%t), condition=%cond, body=%body
  ROOT %copy.1 = f32[2,128]{1,0} copy(%ynn_fusion.6)
}
"""


def test_train_job_profile_sorts_kernels_by_what_they_compute():
    """A fusion holding a dot is a matmul whatever XLA names it, one holding erf the activation;
    XNNPACK's reduction fusion is not a matmul; a loop is a container of kernels."""
    spec = importlib.util.spec_from_file_location(
        "train_job_profile", os.path.join(ROOT, "benchmarks", "train_job_profile.py")
    )
    profile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(profile)
    kinds = profile.kernel_kinds(HLO)
    names = ("ynn_fusion.9", "dot.21", "add_erf_fusion", "ynn_fusion.6", "while.7", "copy.1")
    assert {name: kinds[name] for name in names} == {
        "ynn_fusion.9": "matmul",
        "dot.21": "matmul",
        "add_erf_fusion": "activation",
        "ynn_fusion.6": "other",
        "while.7": "container",
        "copy.1": "other",
    }


def test_pipeline_stages_sums_each_stage_in_the_readme_s_order(tmp_path):
    """Every rule's benchmark file (folder per stage, figures_<k>.tsv per figures job), the
    last row's seconds summed per stage, in the README table's pipeline order, an unknown stage
    after them."""
    spec = importlib.util.spec_from_file_location(
        "pipeline_stages", os.path.join(ROOT, "benchmarks", "pipeline_stages.py")
    )
    stages = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stages)
    files = {
        "zzz/a.tsv": 1.0,
        "figures_1.tsv": 2.0,
        "figures_2.tsv": 3.0,
        "train/teacher/w16.tsv": 4.0,
        "claims.tsv": 0.5,
        "data/teacher.tsv": 0.25,
    }
    for name, seconds in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"s\th:m:s\n9.0\t0:00:09\n{seconds}\t0:00:01\n")
    times = stages.stage_times(tmp_path)
    assert list(times) == ["data", "train", "figures", "claims", "zzz"]
    assert sorted(times["figures"]) == [2.0, 3.0] and times["train"] == [4.0]
