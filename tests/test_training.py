"""Training: heavy-ball momentum against the exact linear recursion (D), docs/physics.md §1."""

import re
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from linear_model import LinearModel

from nncosmo import training
from nncosmo.models import apply_function, build_model, dense_product, training_apply_function
from nncosmo.ntk import ntk_function


def recursion(u0, eta, beta, kappa, steps):
    """(D): u(n+1) = (1 + beta - eta kappa) u(n) - beta u(n-1), u(-1) = u(0); written here anew."""
    u = [u0, u0]
    for _ in range(steps):
        u.append((1 + beta - eta * kappa) * u[-1] - beta * u[-2])
    return np.array(u[1:])


@pytest.mark.parametrize("eta,beta", [(0.05, 0.9), (0.3, 0.5), (0.8, 0.0), (0.02, 0.99)])
def test_linear_model_follows_recursion_D(rng, eta, beta):
    """train_sweep's plain (eta, beta) path against (D) written out, over four settings down to
    gradient descent (beta = 0) and beta = 0.99; tests/test_schedules.py checks one constant
    schedule through `run_schedule` against theory.scheduled_recursion instead."""
    n, d, steps = 12, 5, 150
    x = rng.standard_normal((n, d))
    y = rng.standard_normal(n)
    model = LinearModel()
    params = model.init(jax.random.key(3), x)["params"]
    apply_fn = lambda p, x: model.apply({"params": p}, x)  # noqa: E731
    batched = jax.tree.map(lambda a: a[None], params)
    traj = training.train_sweep(apply_fn, batched, [eta], [beta], x, y, steps, [0, steps])

    lam, vec = np.linalg.eigh(x @ x.T / d + 1.0)  # closed-form NTK of the linear model
    u = (np.asarray(traj.f[0]) - y) @ vec
    scale = np.abs(u[0]).max()
    for a in range(n):
        expected = recursion(u[0, a], eta, beta, lam[a] / n, steps)
        np.testing.assert_allclose(u[:, a], expected, rtol=0, atol=1e-10 * scale)


def test_optax_update_is_heavy_ball_from_rest(rng):
    """theta(n+1) = theta(n) - eta g + beta (theta(n) - theta(n-1)), theta(-1) = theta(0)."""
    eta, beta = 0.1, 0.8
    theta = jnp.asarray(rng.standard_normal(4))
    grads = [jnp.asarray(rng.standard_normal(4)) for _ in range(5)]
    opt = training.heavy_ball(eta, beta)
    state, prev, cur = opt.init(theta), theta, theta
    for g in grads:
        upd, state = opt.update(g, state, cur)
        nxt = cur + upd
        np.testing.assert_allclose(nxt, cur - eta * g + beta * (cur - prev), atol=1e-14)
        prev, cur = cur, nxt


def test_checkpoints_hold_the_parameters_of_their_step(rng):
    x = rng.standard_normal((6, 3))
    y = rng.standard_normal(6)
    model = LinearModel()
    params = jax.tree.map(lambda a: a[None], model.init(jax.random.key(0), x)["params"])
    apply_fn = lambda p, x: model.apply({"params": p}, x)  # noqa: E731
    steps, ckpts = 9, [0, 4, 9]
    traj = training.train_sweep(apply_fn, params, [0.1], [0.5], x, y, steps, ckpts)
    # f is linear in the parameters: checkpoint k reproduces the recorded output at its step
    for k, step in enumerate(ckpts):
        p = jax.tree.map(lambda a, k=k: a[0, k], traj.checkpoints)
        np.testing.assert_allclose(apply_fn(p, x), traj.f[0, step], atol=1e-12)


def test_checkpoints_at_adjacent_steps_hold_their_own_steps(rng):
    """Checkpoints at consecutive steps (slot k of step n = the count of checkpoints below n):
    each slot holds theta of its own step, not its neighbour's; f is linear in the parameters,
    so slot k reproduces the output recorded at its step."""
    x = rng.standard_normal((6, 3))
    y = rng.standard_normal(6)
    model = LinearModel()
    params = jax.tree.map(lambda a: a[None], model.init(jax.random.key(0), x)["params"])
    apply_fn = lambda p, x: model.apply({"params": p}, x)  # noqa: E731
    steps, ckpts = 9, [0, 1, 2, 5, 6, 9]
    traj = training.train_sweep(apply_fn, params, [0.1], [0.5], x, y, steps, ckpts)
    assert not np.allclose(traj.f[0, 1], traj.f[0, 2])  # neighbours differ
    for k, step in enumerate(ckpts):
        p = jax.tree.map(lambda a, k=k: a[0, k], traj.checkpoints)
        np.testing.assert_allclose(apply_fn(p, x), traj.f[0, step], atol=1e-12)


def test_vmapped_sweep_equals_separate_runs(rng):
    x = rng.standard_normal((8, 4))
    y = rng.standard_normal(8)
    model = build_model(
        dict(depth=1, activation="tanh", bias_std=1.0, use_bias=True), 16, jnp.float64
    )
    apply_fn = lambda p, x: model.apply({"params": p}, x)  # noqa: E731
    runs = [{"eta": 0.1, "beta": 0.9, "seed": 0}, {"eta": 0.3, "beta": 0.5, "seed": 1}]
    params = training.init_params_for(model, runs, x)
    both = training.train_sweep(apply_fn, params, [0.1, 0.3], [0.9, 0.5], x, y, 20, [0, 20])
    for i, r in enumerate(runs):
        one_p = jax.tree.map(lambda a, i=i: a[i : i + 1], params)
        one = training.train_sweep(apply_fn, one_p, [r["eta"]], [r["beta"]], x, y, 20, [0, 20])
        np.testing.assert_allclose(both.f[i], one.f[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_chunked_sweep_equals_one_vmap(rng, chunk):
    """lax.map over chunks (5 runs: five of 1 for chunk 1 and 2, a remainder chunk for 3) gives
    the runs of the plain vmap."""
    x = rng.standard_normal((8, 4))
    y = rng.standard_normal(8)
    model = build_model(
        dict(depth=1, activation="tanh", bias_std=1.0, use_bias=True), 16, jnp.float64
    )
    apply_fn = lambda p, x: model.apply({"params": p}, x)  # noqa: E731
    etas, betas = [0.1, 0.3, 0.2, 0.05, 0.4], [0.9, 0.5, 0.7, 0.0, 0.8]
    runs = [
        {"eta": e, "beta": b, "seed": i} for i, (e, b) in enumerate(zip(etas, betas, strict=True))
    ]
    params = training.init_params_for(model, runs, x)
    whole = training.train_sweep(apply_fn, params, etas, betas, x, y, 20, [0, 10, 20])
    chunked = training.train_sweep(
        apply_fn, params, etas, betas, x, y, 20, [0, 10, 20], chunk=chunk
    )
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(chunked), strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


def test_untraced_schedule_branches_change_no_value(rng):
    """Constant runs train alike in a job that also has Nesterov and Friedmann runs (both
    branches traced) and in a job of constant runs only (`schedule_branches` leaves both out)."""
    x, y = rng.standard_normal((8, 4)), rng.standard_normal(8)
    model = build_model(
        dict(depth=1, activation="tanh", bias_std=1.0, use_bias=True), 16, jnp.float64
    )
    apply_fn = lambda p, x: model.apply({"params": p}, x)  # noqa: E731
    specs = [{"kind": "constant"}] * 2 + [{"kind": "nesterov"}, {"kind": "friedmann"}]
    runs = [
        {"eta": 0.1, "beta": None if s["kind"] == "nesterov" else 0.9, "seed": i, "schedule": s}
        for i, s in enumerate(specs)
    ]
    params = training.init_params_for(model, runs, x)
    columns = zip(*(training.run_schedule(r, 20) for r in runs), strict=True)
    etas, betas, *switches = (np.asarray(c) for c in columns)
    assert training.schedule_branches(*switches[:2]) == (True, True)
    assert training.schedule_branches(switches[0][:2], None) == (False, False)
    mixed = training.train_sweep(
        apply_fn, params, etas, betas, x, y, 20, [0, 20],
        **dict(zip(training.SWITCHES, switches, strict=True)),
    )  # fmt: skip
    head = jax.tree.map(lambda a: a[:2], params)
    alone = training.train_sweep(apply_fn, head, etas[:2], betas[:2], x, y, 20, [0, 20])
    for a, b in zip(jax.tree.leaves(alone), jax.tree.leaves(mixed), strict=True):
        np.testing.assert_allclose(a, b[:2], rtol=1e-12, atol=1e-12)
    assert not np.allclose(mixed.beta[3], betas[3])  # the Friedmann branch did run


def test_train_sweep_traces_only_the_branches_its_runs_switch_on(rng, monkeypatch):
    """train_sweep compiles each job with the `schedule_branches` of its switches: none for
    constant runs (default switches), Nesterov's alone for a job with a Nesterov run."""
    x, y = rng.standard_normal((6, 3)), rng.standard_normal(6)
    model = LinearModel()
    params = jax.tree.map(lambda a: jnp.stack([a, a]), model.init(jax.random.key(0), x)["params"])
    apply_fn = lambda p, x: model.apply({"params": p}, x)  # noqa: E731
    traced = []
    monkeypatch.setattr(training, "_compiled_sweep", lambda *args: traced.append(args[-1]))
    job = (apply_fn, params, [0.1, 0.1], [0.5, 0.5], x, y, 4, [0, 4])
    training.train_sweep(*job)
    training.train_sweep(*job, nesterov=np.array([False, True]))
    assert traced == [(False, False), (True, False)]


def while_bodies(hlo: str) -> list[str]:
    """The text of every while-loop body computation of an optimised HLO module."""
    bodies = []
    for name in re.findall(r"body=%([\w.\-]+)", hlo):
        start = hlo.index(f"\n%{name} ")
        bodies.append(hlo[start : hlo.index("\n}\n", start)])
    return bodies


@pytest.mark.parametrize("branches", [(False, False), (True, True)])
def test_training_loop_updates_the_weights_in_place(rng, branches):
    """No step of the compiled training loop copies a weight matrix: `train_run` applies step
    n - 1's update before anything reads theta(n). (Updating at the end of the step, while the
    backward pass still read theta(n), made XLA copy every weight on every step.)"""
    x, y = rng.standard_normal((8, 4)).astype(np.float32), rng.standard_normal(8)
    model = build_model(
        dict(depth=2, activation="erf", bias_std=1.0, use_bias=True), 16, jnp.float32
    )
    params = training.init_params_for(model, [{"seed": s} for s in range(5)], x)
    apply_fn = lambda p, x: model.apply({"params": p}, x)  # noqa: E731
    schedules = training.batched_schedules(np.full(5, 0.1), np.full(5, 0.9), 10, jnp.float32)
    args = (params, schedules, x, y.astype(np.float32), 10, jnp.asarray([0, 5, 10]), 0, None)
    kappa = (jnp.zeros((5, 0, 8), jnp.float32), 0, 0, training.Branches(*branches))
    hlo = training._compiled_sweep.lower(apply_fn, *args, *kappa).compile().as_text()
    bodies = while_bodies(hlo)
    assert bodies and any("f32[5,16,16]" in body for body in bodies)
    for body in bodies:
        assert not re.search(r"= f32\[5,16,16\]\{[\d,]*\} copy\(", body)


def test_the_readout_is_one_scalar_unit():
    """f(x) is a scalar per sample: the readout layer has one unit, kernel (width, 1), bias (1,)."""
    model = build_model(dict(depth=2, activation="erf", bias_std=1.0, use_bias=True), 16)
    params = model.init(jax.random.key(0), jnp.ones((1, 3)))["params"]
    assert params["readout"]["kernel"].shape == (16, 1)
    assert params["readout"]["bias"].shape == (1,)


@pytest.mark.parametrize("shape", [(6, 5), (3, 6, 5)])
def test_dense_product_pullback_is_autodiffs(rng, shape):
    """dense_product's written-out pullback (ct W^T, the sum over samples of h ct^T) equals
    autodiff's of h @ W, for samples alone and with a leading batch axis, and under vmap."""
    h, kernel = rng.standard_normal(shape), rng.standard_normal((5, 4))
    ct = rng.standard_normal((*shape[:-1], 4))
    _, written = jax.vjp(dense_product, h, kernel)
    _, autodiff = jax.vjp(jnp.matmul, h, kernel)
    for a, b in zip(written(ct), autodiff(ct), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
    batched = jax.vmap(lambda h, ct: jax.vjp(dense_product, h, kernel)[1](ct))(h[None], ct[None])
    for a, b in zip(batched, autodiff(ct), strict=True):
        np.testing.assert_allclose(a[0], b, rtol=1e-13, atol=1e-13)


def test_training_apply_function_trains_as_autodiff(rng):
    """The sweep with `training_apply_function` (dense_product in every layer) gives autodiff's
    trajectories, checkpoints and kappa_a(n) in float64, one run alone and three in a vmap."""
    model, runs, x, y = small_mlp_job(rng)
    params = training.init_params_for(model, runs, x)
    vectors = training.initial_eigenvectors(model, params, x, 1)
    etas, betas = [r["eta"] for r in runs], [r["beta"] for r in runs]
    for count in (1, 3):
        head = jax.tree.map(lambda a: a[:count], params)  # noqa: B023
        kappa = dict(kappa_vectors=vectors[:count], kappa_stride=4, kappa_dense=2)
        job = (head, etas[:count], betas[:count], x, y, 12, [0, 5, 12])
        expected = training.train_sweep(apply_function(model), *job, **kappa)
        written = training.train_sweep(training_apply_function(model), *job, **kappa)
        for a, b in zip(jax.tree.leaves(written), jax.tree.leaves(expected), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    one = jax.tree.map(lambda a: a[0], params)
    with pytest.raises(TypeError, match="custom_vjp"):  # reverse mode only, as documented
        jax.jvp(lambda p: training_apply_function(model)(p, x), (one,), (one,))


def test_single_run_loop_keeps_the_weight_gradient_in_the_weights_layout(rng):
    """A one-run training loop carries no weight-shaped array in a transposed layout with
    `training_apply_function`; with autodiff's transpose rule XLA's CPU backend carries the
    hidden layer's gradient as {1,2,0}, the transpose of the weights' {2,1,0}, and every step
    reads it strided (benchmarks/README.md §16; if this autodiff half ever fails, XLA no longer
    needs `dense_product`)."""
    x, y = rng.standard_normal((8, 4)).astype(np.float32), rng.standard_normal(8)
    model = build_model(dict(depth=2, activation="erf", bias_std=1.0, use_bias=True), 64)
    params = training.init_params_for(model, [{"seed": 0}], x)
    schedules = training.batched_schedules(np.full(1, 0.1), np.full(1, 0.9), 10, jnp.float32)
    args = (params, schedules, x, y.astype(np.float32), 10, jnp.asarray([0, 10]), 0, None)
    kappa = (jnp.zeros((1, 0, 8), jnp.float32), 0, 0, training.Branches(False, False))
    for apply_fn, transposed in (
        (training_apply_function(model), False),
        (apply_function(model), True),
    ):
        hlo = training._compiled_sweep.lower(apply_fn, *args, *kappa).compile().as_text()
        (body,) = while_bodies(hlo)
        layouts = set(re.findall(r"f32\[1,64,64\]\{([\d,]*)\}", body))
        assert "2,1,0" in layouts and ("1,2,0" in layouts) == transposed, layouts


def test_chunk_size_prefers_equal_chunks_and_never_pads():
    """Equal chunks (one copy of the step in the program) of the largest size in
    [ceil(chunk / 2), chunk] that divides the runs; else `chunk` with a shorter last chunk."""
    for runs in range(1, 40):
        for chunk in range(0, 9):
            size = training.chunk_size(runs, chunk)
            if chunk <= 0 or chunk >= runs:
                assert size == runs
            else:
                divisors = [s for s in range(-(-chunk // 2), chunk + 1) if runs % s == 0]
                assert size == (max(divisors) if divisors else chunk)
            count = training.chunk_count(runs, chunk)
            assert (count - 1) * size < runs <= count * size
    assert [training.chunk_size(r, 4) for r in (10, 27, 28, 7)] == [2, 3, 4, 4]


@pytest.mark.parametrize("width,features", [(128, 8), (256, 64)])
def test_init_program_matches_the_default_compilation(rng, width, features):
    """The initialisation program, compiled at LLVM -O1 (`models.INIT_COMPILER_OPTIONS`), gives
    bit for bit the parameters of Flax's `init` per seed compiled at the default level."""
    x = rng.standard_normal((4, features)).astype(np.float32)
    model = build_model(
        dict(depth=2, activation="erf", bias_std=1.0, use_bias=True), width, jnp.float32
    )
    seeds = [0, 3, 7]
    stacked = training.init_params_for(model, [{"seed": s} for s in seeds], x)
    default = jax.jit(lambda key: model.init(key, x[:1])["params"])
    for i, seed in enumerate(seeds):
        alone = default(jax.random.key(np.uint32(seed)))
        for a, b in zip(jax.tree.leaves(alone), jax.tree.leaves(stacked), strict=True):
            np.testing.assert_array_equal(b[i], a)


def test_progress_marks_are_evenly_spaced_and_end_at_the_last_step():
    np.testing.assert_array_equal(training.progress_marks(1, 399), np.arange(39, 400, 40))
    np.testing.assert_array_equal(training.progress_marks(2, 2), np.arange(6))  # < 10 steps


def test_progress_lines_give_the_share_of_the_job_and_the_time_left(monkeypatch):
    """Two chunks of 400 steps (steps 0..399), reports at 10 s (chunk 1, step 199: 25 % done)
    and 30 s (chunk 2, step 199: 75 %): 20 s for half the job, so about 10 s left; the first
    report, made after compiling, gives no estimate."""
    from nncosmo import provenance

    clock = iter([10.0, 30.0])
    monkeypatch.setattr(provenance.time, "perf_counter", lambda: next(clock))
    lines = []
    log = SimpleNamespace(info=lambda fmt, *args: lines.append(fmt % args))
    report = provenance.progress_logger(log, 0.0)
    report(199, 0, 399, 2)
    report(199, 1, 399, 2)
    assert lines == [
        " 25 % of the job (chunk 1/2 at step 199/399), 10.0 s",
        " 75 % of the job (chunk 2/2 at step 199/399), 30.0 s, about 10 s left",
    ]


@pytest.mark.parametrize("chunk,chunks", [(0, 1), (3, 2), (2, 5), (1, 5)])
def test_progress_reports_in_order_once_per_chunk_and_changes_nothing(rng, chunk, chunks):
    """Ten host callbacks in job order, not one per run; outputs bit for bit as without."""
    x = rng.standard_normal((8, 4))
    y = rng.standard_normal(8)
    model = build_model(
        dict(depth=1, activation="tanh", bias_std=1.0, use_bias=True), 16, jnp.float32
    )
    apply_fn = lambda p, x: model.apply({"params": p}, x)  # noqa: E731
    etas, betas, steps = [0.1, 0.3, 0.2, 0.05, 0.4], [0.9, 0.5, 0.7, 0.0, 0.8], 29
    params = training.init_params_for(model, [{"seed": i} for i in range(5)], x)
    calls = []
    report = lambda *args: calls.append(tuple(int(a) for a in args))  # noqa: E731
    args = (apply_fn, params, etas, betas, x, y, steps, [0, 10, steps])
    silent = training.train_sweep(*args, chunk=chunk)
    reported = training.train_sweep(*args, chunk=chunk, progress=report)
    for a, b in zip(jax.tree.leaves(silent), jax.tree.leaves(reported), strict=True):
        np.testing.assert_array_equal(b, a)
    assert len(calls) == 10
    assert all(c[2:] == (steps, chunks) for c in calls)
    positions = [c[1] * (steps + 1) + c[0] for c in calls]
    assert positions == sorted(positions) and calls[-1][:2] == (steps, chunks - 1)


def test_divergence_is_flagged_not_raised():
    loss = np.array([[1.0, 0.5, 0.1], [1.0, 10.0, np.inf], [1.0, 50.0, 200.0], [1, np.nan, 1]])
    np.testing.assert_array_equal(training.diverged(loss, 100.0), [False, True, True, True])


def test_divergence_needs_a_final_loss_above_factor_times_the_start():
    """docs/physics.md §7.5: a run diverged if its loss ends *above* factor x its start.
    Exactly 100 x (the loss values and the product are exact in binary) is not a divergence;
    the next float up is."""
    loss = np.array([[1.0, 30.0, 100.0], [0.5, 7.0, 50.0], [1.0, 30.0, np.nextafter(100.0, 200)]])
    np.testing.assert_array_equal(training.diverged(loss, 100.0), [False, False, True])


def test_unstable_run_finishes_and_is_flagged(rng):
    """eta lambda_0/N > 2(1 + beta): the sweep completes, only that run is flagged."""
    x = rng.standard_normal((8, 3))
    y = rng.standard_normal(8)
    model = LinearModel()
    params = model.init(jax.random.key(1), x)["params"]
    params = jax.tree.map(lambda a: jnp.stack([a, a]), params)
    apply_fn = lambda p, x: model.apply({"params": p}, x)  # noqa: E731
    lam0 = np.linalg.eigvalsh(x @ x.T / 3 + 1.0)[-1] / 8
    etas = [0.5 / lam0, 2.5 * 2 / lam0]  # stable; beyond 2(1+beta)/lambda_0 for beta = 0.5
    traj = training.train_sweep(apply_fn, params, etas, [0.5, 0.5], x, y, 200, [0, 200])
    np.testing.assert_array_equal(training.diverged(traj.loss, 100.0), [False, True])


def small_mlp_job(rng, dtype=jnp.float64):
    """Five runs of a depth-2 erf MLP of width 16 on 8 samples (a job in miniature)."""
    x = rng.standard_normal((8, 4))
    y = rng.standard_normal(8)
    model = build_model(dict(depth=2, activation="erf", bias_std=1.0, use_bias=True), 16, dtype)
    etas, betas = [0.1, 0.3, 0.2, 0.05, 0.4], [0.9, 0.5, 0.7, 0.0, 0.8]
    runs = [
        {"eta": e, "beta": b, "seed": i} for i, (e, b) in enumerate(zip(etas, betas, strict=True))
    ]
    return model, runs, x, y


@pytest.mark.parametrize(
    ("steps", "stride", "dense", "expected"),
    [
        (10, 4, 3, [0, 1, 2, 4, 8]),  # every step below 3, then every 4th
        (10, 4, 0, [0, 4, 8]),  # the stride alone
        (10, 4, 20, list(range(11))),  # dense beyond the run: every step
        (5, 1, 0, list(range(6))),
        (10, 0, 3, []),  # stride 0: off, whatever the dense steps
    ],
)
def test_measured_steps_are_dense_early_and_strided_late(steps, stride, dense, expected):
    np.testing.assert_array_equal(training.measured_steps(steps, stride, dense), expected)


def test_kappa_is_the_rayleigh_quotient_of_the_kernel_at_checkpoints(rng):
    """kappa_a(n) = v_a^T Theta(n) v_a / N with Theta from the saved parameters (structured NTK,
    independent of the measurement's vjp) and v_a, lambda_a from an eigh of the initial kernel;
    checkpoint 3 is measured only as a dense early step (not a multiple of the stride 5)."""
    model, runs, x, y = small_mlp_job(rng)
    steps, ckpts, modes = 30, [0, 3, 10, 30], 3
    kappa = dict(kappa_modes=modes, kappa_stride=5, kappa_dense=4)
    ds = training.sweep_dataset(model, runs, x, y, steps, ckpts, 100.0, **kappa)
    np.testing.assert_array_equal(ds.kappa_step, [0, 1, 2, 3, 5, 10, 15, 20, 25, 30])
    ntk = ntk_function(model, "structured")
    for r in range(len(runs)):
        theta0 = np.asarray(ntk(training.variables_to_params(ds, run=r, checkpoint=0), x))
        lam, vec = np.linalg.eigh(theta0)
        v = vec[:, ::-1][:, :modes]
        np.testing.assert_allclose(ds.kappa.isel(run=r, kappa_step=0), lam[::-1][:modes] / 8, 1e-6)
        for k, step in enumerate(ckpts):
            theta = np.asarray(ntk(training.variables_to_params(ds, run=r, checkpoint=k), x))
            expected = np.einsum("ia,ij,ja->a", v, theta, v) / 8
            np.testing.assert_allclose(ds.kappa.sel(run=r, kappa_step=step), expected, rtol=1e-6)
    assert not np.allclose(ds.kappa.isel(kappa_step=-1), ds.kappa.isel(kappa_step=0), rtol=1e-3)


@pytest.mark.parametrize(("stride", "dense", "measured"), [(1, 0, 22), (4, 0, 6), (4, 6, 10)])
def test_kappa_leaves_training_bit_identical_and_chunks_agree(rng, stride, dense, measured):
    model, runs, x, y = small_mlp_job(rng, jnp.float32)
    params = training.init_params_for(model, runs, x)
    apply_fn = lambda p, x: model.apply({"params": p}, x)  # noqa: E731
    vectors = training.initial_eigenvectors(model, params, x, 2)
    etas, betas = [r["eta"] for r in runs], [r["beta"] for r in runs]
    args = (apply_fn, params, etas, betas, x, y, 21, [0, 8, 21])
    off = training.train_sweep(*args)
    on = training.train_sweep(*args, kappa_vectors=vectors, kappa_stride=stride, kappa_dense=dense)
    for a, b in zip(jax.tree.leaves(off[:3]), jax.tree.leaves(on[:3]), strict=True):
        np.testing.assert_array_equal(b, a)
    assert off.kappa.shape == (5, 0, 0) and on.kappa.shape == (5, measured, 2)
    chunked = training.train_sweep(
        *args, chunk=2, kappa_vectors=vectors, kappa_stride=stride, kappa_dense=dense
    )
    for a, b in zip(jax.tree.leaves(on), jax.tree.leaves(chunked), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)  # float32 rounding over 21 steps


@pytest.mark.parametrize("modes", [1, 2])
def test_initial_eigenvectors_are_the_top_ones_of_each_runs_kernel(rng, modes):
    """v_a (run, mode, sample), one mode as well as several: unit vectors spanning the top
    eigenvectors of an independent eigh of each run's initial NTK (structured kernel)."""
    model, runs, x, _ = small_mlp_job(rng)
    params = training.init_params_for(model, runs[:2], x)
    vectors = training.initial_eigenvectors(model, params, x, modes)
    assert vectors.shape == (2, modes, 8)
    ntk = ntk_function(model, "structured")
    for r in range(2):
        kernel = np.asarray(ntk(jax.tree.map(lambda a, r=r: a[r], params), x))
        top = np.linalg.eigh(kernel)[1][:, ::-1][:, :modes]
        np.testing.assert_allclose(np.abs(vectors[r] @ top), np.eye(modes), atol=1e-8)


def test_kappa_of_one_mode_is_written(rng):
    """kappa_modes 1: kappa (run, kappa_step, 1) on the mode a = 0, the top one (as the ntk
    stage numbers its eigenmodes), kappa_0(0) = lambda_0(0) / N of an independent eigh of the
    initial kernel."""
    model, runs, x, y = small_mlp_job(rng)
    kappa = dict(kappa_modes=1, kappa_stride=5)
    ds = training.sweep_dataset(model, runs[:2], x, y, 5, [0, 5], 100.0, **kappa)
    assert ds.kappa.shape == (2, 2, 1)
    np.testing.assert_array_equal(ds.kappa_step, [0, 5])
    np.testing.assert_array_equal(ds.mode, [0])
    ntk = ntk_function(model, "structured")
    for r in range(2):
        params = training.variables_to_params(ds, run=r, checkpoint=0)
        top = np.linalg.eigvalsh(np.asarray(ntk(params, x)))[-1]
        np.testing.assert_allclose(ds.kappa.isel(run=r, kappa_step=0, mode=0), top / 8, 1e-8)


def test_kappa_off_writes_no_kappa_variable(rng):
    model, runs, x, y = small_mlp_job(rng, jnp.float32)
    ds = training.sweep_dataset(model, runs[:2], x, y, 5, [0, 5], 100.0, kappa_modes=4)
    assert "kappa" not in ds and "kappa_step" not in ds.coords


def test_kappa_off_computes_no_kernel(rng, monkeypatch):
    """Stride 0 (off) with kappa_modes set: no initial NTK is computed (an N x N kernel per run,
    at scale the cost of the ntk stage), and none is needed."""
    import nncosmo.ntk as ntk_module

    def refuse(*args, **kwargs):
        raise AssertionError("kappa off, yet an NTK was computed")

    monkeypatch.setattr(ntk_module, "ntk_function", refuse)
    model, runs, x, y = small_mlp_job(rng, jnp.float32)
    ds = training.sweep_dataset(model, runs[:2], x, y, 5, [0, 5], 100.0, kappa_modes=4)
    assert "kappa" not in ds


def test_sweep_dataset_trains_in_the_chunks_asked_for(rng):
    """`chunk` reaches the sweep: two runs in chunks of one report two chunks, in order."""
    model, runs, x, y = small_mlp_job(rng, jnp.float32)
    calls = []
    report = lambda *args: calls.append(tuple(int(a) for a in args))  # noqa: E731
    training.sweep_dataset(model, runs[:2], x, y, 4, [0, 4], 100.0, chunk=1, progress=report)
    assert {c[3] for c in calls} == {2} and calls[-1][1] == 1


def test_sweep_dataset_compiles_its_training_program_once_per_model(rng):
    """A second job of an equal model and equal shapes reuses the compiled training sweep
    (`nncosmo.models.apply_function`): its call adds no entry to the program's cache."""
    model, runs, x, y = small_mlp_job(rng, jnp.float32)
    job = (runs[:2], x, y, 5, [0, 5], 100.0)
    training.sweep_dataset(model, *job)
    compiled = training._compiled_sweep._cache_size()
    twin = model.clone()
    assert twin is not model and twin == model
    training.sweep_dataset(twin, *job)
    assert training._compiled_sweep._cache_size() == compiled


def test_kappa_vectors_come_from_the_ntk_stages_kernel(rng, monkeypatch):
    """The v_a(0) of the kappa_a(n) measurement are those of the kernel the ntk stage computes,
    with its method (config ntk.method; docs/physics.md §7.9): `sweep_dataset` passes it to
    `ntk_function`, and its vectors and kappa_a(0) are the ntk stage's v_a(0) and
    lambda_a(0) / N (float64: the kernels' paths agree to rounding)."""
    import nncosmo.ntk as ntk_module

    model, runs, x, y = small_mlp_job(rng)
    calls = []

    def spy(model, method="auto", chunk_size=16):
        calls.append(method)
        return ntk_function(model, method, chunk_size)

    monkeypatch.setattr(ntk_module, "ntk_function", spy)
    job = (model, runs[:2], x, y, 4, [0, 4], 100.0)
    ds = training.sweep_dataset(*job, kappa_modes=3, kappa_stride=2, ntk_method="generic")
    assert calls == ["generic"]
    monkeypatch.undo()
    stage = ntk_module.ntk_dataset(model, ds, x, y, 3, "generic", 16).isel(checkpoint=0)
    params = training.init_params_for(model, runs[:2], x)
    vectors = training.initial_eigenvectors(model, params, x, 3, "generic")
    expected = stage.eigenvector.isel(eigen=slice(0, 3)).transpose("run", "eigen", "sample")
    np.testing.assert_allclose(vectors, expected, rtol=0, atol=1e-10)
    kappa0 = stage.eigenvalue.isel(eigen=slice(0, 3)).values / x.shape[0]
    np.testing.assert_allclose(ds.kappa.isel(kappa_step=0), kappa0, rtol=1e-10)


def test_sweep_dataset_units_make_eta_kappa_dimensionless(rng):
    """tau = sum sqrt(eta_n) is in tau, so eta_n (and the coordinate eta, once written) is in
    tau^2 and kappa = lambda / N in 1/tau^2: eta kappa is a number (docs/physics.md §1)."""
    from nncosmo.io import with_coordinate_attrs

    model, runs, x, y = small_mlp_job(rng, jnp.float32)
    job = (model, runs[:2], x, y, 5, [0, 5], 100.0)
    ds = with_coordinate_attrs(training.sweep_dataset(*job, kappa_modes=1, kappa_stride=5))
    units = {name: ds[name].attrs["units"] for name in ("tau", "eta_n", "eta", "kappa")}
    assert units == {"tau": "tau", "eta_n": "tau^2", "eta": "tau^2", "kappa": "1/tau^2"}


@pytest.fixture(scope="module")
def friedmann_job():
    """sweep_dataset of a constant and a Friedmann run (M = 2, float64 MLP), 6 steps, the
    checkpoints given out of order, divergence factor 0.065: with it a run whose loss does not
    fall below 6.5 % of its start counts as diverged (here the first, not the second)."""
    model, runs, x, y = small_mlp_job(np.random.default_rng(5))
    runs = [
        {"eta": 0.05, "beta": 0.7, "seed": 0},
        {"eta": 0.1, "beta": 0.9, "seed": 1, "schedule": {"kind": "friedmann", "planck_mass": 2.0}},
    ]
    ds = training.sweep_dataset(model, runs, x, y, 6, [6, 0, 3], 0.065)
    return model, runs, x, y, ds


def test_sweep_dataset_labels_each_checkpoint_with_its_step(friedmann_job):
    """Checkpoints given out of order: the coordinate is sorted and the parameters under the
    label s give the output f recorded at step s."""
    model, runs, x, _, ds = friedmann_job
    np.testing.assert_array_equal(ds.checkpoint, [0, 3, 6])
    for r in range(len(runs)):
        for k, step in enumerate(ds.checkpoint.values):
            params = training.variables_to_params(ds, run=r, checkpoint=k)
            f = apply_function(model)(params, jnp.asarray(x))
            np.testing.assert_allclose(f, ds.f.isel(run=r, step=step), rtol=1e-12, atol=1e-12)


def test_sweep_dataset_records_the_momenta_the_friedmann_run_used(friedmann_job):
    """beta_n of the dataset: the constant run's beta; the Friedmann run's exp(-3 H sqrt(eta)),
    H^2 = (rho / M^2 + Lambda) / 3, Lambda = (ln beta)^2 / (3 eta) (docs/physics.md §11), with
    rho = |r(n) - r(n-1)|^2 / (2 eta) + (N/2) |grad L|^2 computed here at the checkpoints from
    the recorded outputs and the saved parameters (from rest: r(-1) = r(0))."""
    model, runs, x, y, ds = friedmann_job
    np.testing.assert_array_equal(ds.beta_n.isel(run=0), 0.7)
    eta, beta, samples = 0.1, 0.9, len(y)
    loss = lambda p: training.mse_loss(apply_function(model)(p, jnp.asarray(x)), y)  # noqa: E731
    f = ds.f.isel(run=1).values
    for k, step in enumerate(ds.checkpoint.values):
        grads = jax.grad(loss)(training.variables_to_params(ds, run=1, checkpoint=k))
        squares = sum(np.sum(np.asarray(g) ** 2) for g in jax.tree.leaves(grads))
        kinetic = np.sum((f[step] - f[max(step - 1, 0)]) ** 2) / (2 * eta)
        rho = (kinetic + samples * squares / 2) / 2.0**2
        hubble = np.sqrt((rho + np.log(beta) ** 2 / (3 * eta)) / 3)
        expected = np.exp(-3 * hubble * np.sqrt(eta))
        assert ds.beta_n.isel(run=1, step=step) == pytest.approx(expected, rel=1e-10)
    assert np.all(ds.beta_n.isel(run=1) < beta)


def test_sweep_dataset_time_is_the_sum_of_root_learning_rates(friedmann_job):
    """tau_n = sum_{k<n} sqrt(eta_k) (docs/physics.md §1): n sqrt(eta) for constant eta_n."""
    _, runs, _, _, ds = friedmann_job
    for r, run in enumerate(runs):
        np.testing.assert_array_equal(ds.eta_n.isel(run=r), run["eta"])
        np.testing.assert_allclose(ds.tau.isel(run=r), np.arange(7) * np.sqrt(run["eta"]))


def test_sweep_dataset_flags_divergence_by_its_own_factor(friedmann_job):
    """`diverged` with the job's divergence factor (0.065 here, not 100): a run is flagged
    exactly where its recorded loss ends above 0.065 times its start."""
    *_, ds = friedmann_job
    loss = ds.loss.values
    grew = loss[:, -1] > 0.065 * loss[:, 0]
    np.testing.assert_array_equal(ds.diverged, grew)
    assert grew.any() and not grew.all()


def test_batched_schedules_broadcast_constants_and_default_the_switches():
    """Constant (run,) etas and betas fill every step; per-step (run, steps + 1) ones are kept;
    without switches: no Nesterov, no Friedmann, Lambda 0, M 1."""
    per_step = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    s = training.batched_schedules([0.1, 0.2], per_step, 2, jnp.float64)
    np.testing.assert_array_equal(s.eta, [[0.1] * 3, [0.2] * 3])
    np.testing.assert_array_equal(s.beta, per_step)
    np.testing.assert_array_equal(s.nesterov, [False, False])
    np.testing.assert_array_equal(s.friedmann, [False, False])
    np.testing.assert_array_equal(s.vacuum, [0.0, 0.0])
    np.testing.assert_array_equal(s.planck_mass, [1.0, 1.0])


def test_friedmann_momentum_uses_the_steps_own_learning_rate():
    """Friedmann switch on: beta_n = exp(-3 H sqrt(eta_n)), H^2 = (rho / M^2 + Lambda) / 3 with
    eta_n of step n (a varying schedule); off: the schedule's beta_n."""
    etas, betas = jnp.array([0.1, 0.2, 0.4]), jnp.array([0.9, 0.8, 0.7])
    on = training.Schedule(etas, betas, False, True, jnp.asarray(0.05), jnp.asarray(2.0))
    rho = 0.6
    for n in range(3):
        hubble = np.sqrt((rho / 2.0**2 + 0.05) / 3)
        expected = np.exp(-3 * hubble * np.sqrt(etas[n]))
        assert training.scheduled_momentum(on, n, rho) == pytest.approx(expected, rel=1e-12)
        off = on._replace(friedmann=False)
        assert training.scheduled_momentum(off, n, rho) == betas[n]
