"""Rule data: build one data set from its config entry and write it."""

from nncosmo.data import make_dataset
from nncosmo.io import write_dataset
from nncosmo.provenance import end_job, provenance, start_job


def main(smk) -> None:
    log = start_job(smk, "data")
    name, spec = smk.wildcards.dataset, dict(smk.params.spec)
    ds = make_dataset(name, spec)
    log.info("data set %s: %d samples x %d features", name, ds.sizes["sample"], ds.sizes["feature"])
    write_dataset(ds, smk.output[0], provenance(smk.config, rule="data", seed=spec["seed"]))


main(snakemake)  # noqa: F821
end_job()
