"""Rule figure_F*: render one figure of docs/figures.md as PNG and PDF."""

from nncosmo.figures import FIGURES, save, set_style
from nncosmo.provenance import provenance, stage_logger
from nncosmo.results import Results


def main(smk) -> None:
    log = stage_logger(smk.log[0], "figure")
    results = Results.load(smk.input, smk.config)
    set_style()
    fig = FIGURES[smk.params.figure](results)
    save(
        fig,
        smk.output.png,
        smk.output.pdf,
        smk.params.figures["dpi"],
        provenance(smk.config, rule=f"figure_{smk.params.figure}"),
    )
    log.info("wrote %s and %s", smk.output.png, smk.output.pdf)


main(snakemake)  # noqa: F821
