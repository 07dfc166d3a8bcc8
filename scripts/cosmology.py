"""Rule cosmology: integrate, for every run and every dictionary, the matched de Sitter field,
and for every scheduled run its own history's fields (exact image, continuum history; F7)."""

import time

import jax

from nncosmo.cosmology import field_dataset
from nncosmo.io import read_dataset, write_dataset
from nncosmo.provenance import end_job, provenance, start_job

jax.config.update("jax_enable_x64", True)  # the integrator runs in float64


def main(smk) -> None:
    log = start_job(smk, "cosmology")
    ntk = read_dataset(smk.input.ntk, ["u", "eigenvalue", "eigenvector", "ntk", "tau"])
    measured = read_dataset(smk.input.train, optional=["kappa"]).get("kappa")  # None: not measured
    start = time.perf_counter()
    tolerances = smk.params.cosmology["rtol"], smk.params.cosmology["atol"]
    ds = field_dataset(ntk, *tolerances, measured)
    log.info(
        "%d runs x %d modes x %d dictionaries integrated in %.1f s; adiabatic kappa: %s",
        ds.sizes["run"],
        ds.sizes["mode"],
        ds.sizes["dictionary"],
        time.perf_counter() - start,
        ds.attrs["adiabatic_kappa_source"],
    )
    write_dataset(ds, smk.output[0], provenance(smk.config, rule="cosmology"))


main(snakemake)  # noqa: F821
end_job()
