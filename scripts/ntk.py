"""Rule ntk: empirical NTK at every checkpoint of every run, eigenmodes, residual modes."""

import time

import jax
import numpy as np

from nncosmo.io import read_dataset, write_dataset
from nncosmo.models import build_model
from nncosmo.ntk import ntk_dataset
from nncosmo.provenance import end_job, provenance, start_job

jax.config.update("jax_enable_x64", True)


def main(smk) -> None:
    log = start_job(smk, "ntk")
    data = read_dataset(smk.input.data, ["x", "y"])
    train = read_dataset(smk.input.train, ["f", "loss", "tau", "eta_n", "beta_n"], lazy=True)
    cfg = smk.params.ntk
    model = build_model(smk.params.model, int(train.attrs["width"]), np.dtype(train.attrs["dtype"]))
    start = time.perf_counter()
    ds = ntk_dataset(
        model, train, data.x.values, data.y.values, cfg["modes"], cfg["method"], cfg["chunk_size"]
    )
    log.info(
        "%d runs x %d checkpoints in %.1f s",
        ds.sizes["run"],
        ds.sizes["checkpoint"],
        time.perf_counter() - start,
    )
    write_dataset(ds, smk.output[0], provenance(smk.config, rule="ntk"))


main(snakemake)  # noqa: F821
end_job()
