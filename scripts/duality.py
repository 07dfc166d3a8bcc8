"""Rule duality: Prony fits of (H, m^2) per mode, network-vs-field residuals, NTK drift laws."""

from nncosmo.duality import duality_dataset, with_hubble_windows
from nncosmo.io import read_dataset, write_dataset
from nncosmo.provenance import end_job, provenance, start_job


def main(smk) -> None:
    log = start_job(smk, "duality")
    ntk = read_dataset(smk.input.ntk, ["u", "eigenvalue", "residual_norm"])
    cosmo = read_dataset(smk.input.cosmology, ["field", "history_hubble"])
    train = read_dataset(smk.input.train, ["f", "tau"], optional=["kappa"])
    y = read_dataset(smk.input.data, ["y"]).y.values
    cfg = smk.params.duality
    ds = duality_dataset(ntk, cosmo, cfg["fit_rel_floor"], train, y)
    ds = with_hubble_windows(
        ds,
        ntk,
        cosmo,
        cfg["hubble_window"],
        cfg["hubble_window_stride"],
        cfg["hubble_window_variation"],
        cfg["fit_rel_floor"],
    )
    log.info(
        "fits ok for %d of %d (run, mode) pairs",
        int((ds.fit_status == 0).sum()),
        ds.fit_status.size,
    )
    write_dataset(ds, smk.output[0], provenance(smk.config, rule="duality"))


main(snakemake)  # noqa: F821
end_job()
