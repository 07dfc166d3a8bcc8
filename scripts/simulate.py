"""Rule simulate: one target cosmology simulated by training a network (nncosmo.simulate)."""

import time

import jax
import jax.numpy as jnp

from nncosmo.io import read_dataset, write_dataset
from nncosmo.models import build_model
from nncosmo.provenance import end_job, provenance, start_job
from nncosmo.simulate import simulate_dataset

jax.config.update("jax_enable_x64", True)  # the simulation trains in float64


def main(smk) -> None:
    log = start_job(smk, "simulate")
    name, target, network = smk.wildcards.target, smk.params.target, smk.params.network
    x = read_dataset(smk.input.data, ["x"]).x.values
    model = build_model(smk.params.model, network["width"], jnp.float64)
    start = time.perf_counter()
    ds = simulate_dataset(name, target, network, model, x)
    # the F8-field claim's number (nncosmo.results.simulation_error), written out for the log:
    # importing the measurement code would rerun the simulations whenever it changes
    worst = abs(ds.phi_network - ds.phi_target).max().item() / abs(target["phi0"])
    log.info(
        "%s: %d steps in %.1f s; kappa_0 = %.4g, eta in [%.3g, %.3g], sup|phi_net - phi| / "
        "|phi(t0)| = %.3g, kappa drift %.3g",
        name,
        target["steps"],
        time.perf_counter() - start,
        ds.kappa0,
        ds.eta.min().item(),
        ds.eta.max().item(),
        worst,
        ds.kappa_drift,
    )
    write_dataset(
        ds,
        smk.output[0],
        provenance(smk.config, rule="simulate", target=name, seed=network["seed"]),
    )


main(snakemake)  # noqa: F821
end_job()
