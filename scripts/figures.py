"""Rules figures_<k>: render this job's share of the built figures of docs/figures.md
(params.build, dealt out by nncosmo.config.figure_jobs) as PNG and PDF."""

from nncosmo.figures import FIGURES, save, set_style
from nncosmo.provenance import end_job, provenance, start_job
from nncosmo.results import Results


def main(smk) -> None:
    log = start_job(smk, "figures")
    # only the figures.* settings this job is rerun for (nncosmo.config.FIGURE_READS): a figure
    # reading any other fails here (KeyError) instead of going stale when that setting changes
    results = Results.load(smk.input, {**smk.config, "figures": smk.params.figures})
    set_style()
    for fig in smk.params.build:
        png, pdf = smk.output[f"{fig}_png"], smk.output[f"{fig}_pdf"]
        record = provenance(smk.config, rule="figures", figure=fig)
        save(FIGURES[fig](results), png, pdf, smk.params.figures["dpi"], record)
        log.info("wrote %s and %s", png, pdf)


main(snakemake)  # noqa: F821
end_job()
