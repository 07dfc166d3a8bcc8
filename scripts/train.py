"""Rule train: every (eta, beta, seed, schedule) run of one job in one vmapped scan."""

import time

import jax
import numpy as np

from nncosmo.config import run_label
from nncosmo.io import read_dataset, write_dataset
from nncosmo.models import build_model
from nncosmo.provenance import end_job, progress_logger, provenance, start_job
from nncosmo.training import sweep_dataset

jax.config.update("jax_enable_x64", True)  # model dtype is explicit; x64 only enables float64


def main(smk) -> None:
    log = start_job(smk, "train")
    data = read_dataset(smk.input.data, ["x", "y"])
    cfg, runs, width = smk.params.training, list(smk.params.runs), smk.params.width
    model = build_model(smk.params.model, width, np.dtype(cfg["dtype"]))
    log.info(
        "training %d runs of width %d for %d steps on %s (device %s, XLA CPU threads %d)",
        len(runs),
        width,
        cfg["steps"],
        smk.wildcards.dataset,
        jax.devices()[0],
        smk.threads,
    )
    start = time.perf_counter()
    ds = sweep_dataset(
        model,
        runs,
        data.x.values,
        data.y.values,
        cfg["steps"],
        cfg["checkpoints"],
        cfg["divergence_factor"],
        chunk=cfg["chunk_runs"],
        progress=progress_logger(log, start),
        kappa_modes=cfg["kappa_modes"],
        kappa_stride=cfg["kappa_stride"],
        kappa_dense=cfg["kappa_dense_steps"],
        ntk_method=smk.params.ntk_method,
    )
    diverged = [run_label(r) for r, bad in zip(runs, ds.diverged.values, strict=True) if bad]
    log.info(
        "done in %.1f s; diverged runs: %s",
        time.perf_counter() - start,
        "; ".join(diverged) if diverged else "none",
    )
    write_dataset(ds, smk.output[0], provenance(smk.config, rule="train"))


main(snakemake)  # noqa: F821
end_job()
