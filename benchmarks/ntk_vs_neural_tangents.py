"""Project NTK (`ntk_function(model)`, auto -> structured) vs neural-tangents, erf MLP, d = 64.

Run from the repo root, in the project virtualenv:
    python benchmarks/ntk_vs_neural_tangents.py --nt-python ~/nt-venv/bin/python

The driver (project virtualenv) runs one fresh subprocess per (side, shape), so each reports its
own peak RSS (getrusage ru_maxrss, covers XLA's buffers):
- project: builds `nncosmo.models.MLP` (NTK parameterisation, bias_std 1, erf), draws x and the
  Flax parameters, saves them to an .npz, times `ntk_function(model)` and saves Theta;
- nt: in the interpreter given by --nt-python (a virtualenv with neural-tangents 0.6.5 on
  jax 0.4.25, see benchmarks/README.md), loads the same x and parameters into
  the equivalent stax network (Dense(W_std=1, b_std=1, parameterization='ntk') + Erf), times
  `nt.empirical_ntk_fn(..., implementation=STRUCTURED_DERIVATIVES)` and compares Theta;
- jacrev: (small shapes only) Theta = J J^T from a plain `jax.jacrev`, in the project venv.
Ratios are project / other (< 1: the project is faster). Compile time is reported separately.
Options: --repeats N, --shapes 0,1,2, --jacrev-shapes 0, --nt-python PATH.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing  # noqa: E402

D_IN = 64
SHAPES = [(512, 3, 256), (1024, 3, 512), (2048, 2, 1024)]  # (width, hidden layers, N)
SEED = 0


def layer_names(depth: int) -> list[str]:
    return [f"hidden_{i}" for i in range(depth)] + ["readout"]


def project_worker(width, depth, n, repeats, workdir):
    import jax
    import jax.numpy as jnp

    from nncosmo.models import MLP
    from nncosmo.ntk import ntk_function

    model = MLP(width=width, depth=depth, activation="erf", bias_std=1.0, use_bias=True)
    x = jnp.asarray(np.random.default_rng(SEED).standard_normal((n, D_IN)), jnp.float32)
    params = model.init(jax.random.key(SEED), x[:1])["params"]
    arrays = {"x": np.asarray(x)}
    for i, name in enumerate(layer_names(depth)):
        arrays[f"W{i}"] = np.asarray(params[name]["kernel"])
        arrays[f"b{i}"] = np.asarray(params[name]["bias"])
    np.savez(os.path.join(workdir, f"inputs_{width}_{depth}_{n}.npz"), **arrays)
    rss_setup = _timing.max_rss_mib()
    fn = ntk_function(model)  # auto -> structured path for an MLP
    stats = _timing.time_fn(lambda: fn(params, x), repeats)
    np.save(os.path.join(workdir, f"theta_{width}_{depth}_{n}.npy"), np.asarray(stats["out"]))
    return {
        **_timing.strip(stats),
        "rss_setup_mib": rss_setup,
        "rss_peak_mib": _timing.max_rss_mib(),
        "jax": jax.__version__,
    }


def nt_worker(width, depth, n, repeats, workdir, vmap_axes=0):
    import jax
    import jax.numpy as jnp
    import neural_tangents as nt
    from neural_tangents import stax

    data = np.load(os.path.join(workdir, f"inputs_{width}_{depth}_{n}.npz"))
    layers = []
    for _ in range(depth):
        layers += [stax.Dense(width, W_std=1.0, b_std=1.0, parameterization="ntk"), stax.Erf()]
    layers.append(stax.Dense(1, W_std=1.0, b_std=1.0, parameterization="ntk"))
    init_fn, apply_fn, _ = stax.serial(*layers)
    x = jnp.asarray(data["x"])
    _, template = init_fn(jax.random.PRNGKey(0), x.shape)
    params, layer = [], 0
    for p in template:
        if p == ():
            params.append(())
            continue
        w, b = p
        params.append(
            (
                jnp.asarray(data[f"W{layer}"]).reshape(w.shape),
                jnp.asarray(data[f"b{layer}"]).reshape(b.shape),
            )
        )
        layer += 1
    rss_setup = _timing.max_rss_mib()
    kernel_fn = jax.jit(
        nt.empirical_ntk_fn(
            apply_fn,
            trace_axes=(-1,),
            vmap_axes=vmap_axes,
            implementation=nt.NtkImplementation.STRUCTURED_DERIVATIVES,
        )
    )
    stats = _timing.time_fn(lambda: kernel_fn(x, None, params), repeats)
    return {
        **against_project(stats, rss_setup, workdir, width, depth, n),
        "vmap_axes": vmap_axes,
        "jax": jax.__version__,
        "neural_tangents": nt.__version__ if hasattr(nt, "__version__") else "0.6.5",
    }


def against_project(stats, rss_setup, workdir, width, depth, n) -> dict:
    """Timing stats, memory and agreement of a kernel with the project's saved Theta."""
    other = np.asarray(stats["out"], np.float64)
    theta = np.load(os.path.join(workdir, f"theta_{width}_{depth}_{n}.npy")).astype(np.float64)
    return {
        **_timing.strip(stats),
        "rss_setup_mib": rss_setup,
        "rss_peak_mib": _timing.max_rss_mib(),
        "rel_fro": float(np.linalg.norm(theta - other) / np.linalg.norm(other)),
        "rel_max": float(np.abs(theta - other).max() / np.abs(other).max()),
    }


def jacrev_worker(width, depth, n, repeats, workdir):
    import jax
    import jax.numpy as jnp

    from nncosmo.models import MLP

    model = MLP(width=width, depth=depth, activation="erf", bias_std=1.0, use_bias=True)
    data = np.load(os.path.join(workdir, f"inputs_{width}_{depth}_{n}.npz"))
    x = jnp.asarray(data["x"])
    params = {
        name: {"kernel": jnp.asarray(data[f"W{i}"]), "bias": jnp.asarray(data[f"b{i}"])}
        for i, name in enumerate(layer_names(depth))
    }

    @jax.jit
    def kernel(p, x):
        jac = jax.jacrev(lambda q: model.apply({"params": q}, x))(p)
        flat = jnp.concatenate([j.reshape(x.shape[0], -1) for j in jax.tree.leaves(jac)], axis=1)
        return flat @ flat.T

    rss_setup = _timing.max_rss_mib()
    stats = _timing.time_fn(lambda: kernel(params, x), repeats)
    return against_project(stats, rss_setup, workdir, width, depth, n)


WORKERS = {"project": project_worker, "nt": nt_worker, "jacrev": jacrev_worker}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--shapes", default="0,1,2", help="indices into SHAPES")
    parser.add_argument("--jacrev-shapes", default="0", help="indices; '' for none")
    parser.add_argument("--jacrev-repeats", type=int, default=5)
    parser.add_argument(
        "--nt-python",
        default=None,
        help="python of a virtualenv with neural-tangents (see benchmarks/README.md); "
        "without it the neural-tangents side is skipped",
    )
    parser.add_argument(
        "--nt-vmap-axes",
        default="0",
        help="vmap_axes of nt.empirical_ntk_fn: 0 (default) or 'none' (slow, see README)",
    )
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--shape", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        width, depth, n = SHAPES[args.shape]
        kwargs = {}
        if args.worker == "nt":
            kwargs["vmap_axes"] = None if args.nt_vmap_axes == "none" else int(args.nt_vmap_axes)
        _timing.emit(WORKERS[args.worker](width, depth, n, args.repeats, args.workdir, **kwargs))
        return

    shapes = [int(s) for s in args.shapes.split(",") if s]
    jac_shapes = {int(s) for s in args.jacrev_shapes.split(",") if s}
    have_nt = args.nt_python is not None and os.path.exists(args.nt_python)
    print(f"machine: {_timing.cpu_model()}, {os.cpu_count()} logical CPUs")
    print(f"erf MLP, NTK parameterisation, d = {D_IN}, float32, {args.repeats} warm runs each")
    print(
        f"neural-tangents: STRUCTURED_DERIVATIVES, trace_axes=(-1,), vmap_axes={args.nt_vmap_axes}"
    )
    if not have_nt:
        print(f"neural-tangents interpreter {args.nt_python} not found: nt side skipped")
    workdir = tempfile.mkdtemp(prefix="ntk_bench_")
    me = os.path.abspath(__file__)
    rows = []
    for idx in shapes:
        width, depth, n = SHAPES[idx]
        print(f"\n== width {width}, depth {depth}, N {n}")

        def worker(kind, python, idx=idx):
            repeats = args.jacrev_repeats if kind == "jacrev" else args.repeats
            argv = [python, me, "--worker", kind, "--shape", str(idx), "--workdir", workdir]
            argv += ["--repeats", str(repeats), "--nt-vmap-axes", args.nt_vmap_axes]
            return _timing.run_worker(argv)

        res = {"project": worker("project", sys.executable)}
        if have_nt:
            try:
                res["nt"] = worker("nt", args.nt_python)
            except RuntimeError as err:
                print(f"  neural-tangents worker failed: {err}")
        if idx in jac_shapes:
            res["jacrev"] = worker("jacrev", sys.executable)
        for kind, r in res.items():
            extra = ""
            if "rel_fro" in r:
                extra = f"  |dTheta|_F/|Theta|_F {r['rel_fro']:.1e}, max {r['rel_max']:.1e}"
            print(
                f"  {kind:8s} {_timing.fmt_ms(r)}\n"
                f"           peak RSS {r['rss_peak_mib']:7.0f} MiB "
                f"(after setup {r['rss_setup_mib']:.0f} MiB){extra}"
            )
        p = res["project"]["median_s"]
        for other in ("nt", "jacrev"):
            if other in res:
                print(
                    f"  ratio project/{other}: median {p / res[other]['median_s']:.3g}, "
                    f"min {res['project']['min_s'] / res[other]['min_s']:.3g}"
                    + ("   (goal <= 1.0)" if other == "nt" else "")
                )
        rows.append(((width, depth, n), res))
    print("\nsummary: shape | project median ms | nt median ms | ratio | agreement (rel Frobenius)")
    for (width, depth, n), res in rows:
        nt_r = res.get("nt")
        nt_ms = f"{1e3 * nt_r['median_s']:.1f}" if nt_r else "n/a"
        ratio = f"{res['project']['median_s'] / nt_r['median_s']:.2f}" if nt_r else "n/a"
        agree = f"{nt_r['rel_fro']:.1e}" if nt_r else "n/a"
        print(
            f"  ({width}, {depth}, {n}) | {1e3 * res['project']['median_s']:.1f} | {nt_ms} | "
            f"{ratio} | {agree}"
        )


if __name__ == "__main__":
    main()
