"""Rule manifest: sha256 of every result file plus the provenance summary, for reviewers."""

from pathlib import Path

from nncosmo.provenance import manifest, provenance


def main(smk) -> None:
    text = manifest(list(smk.input), provenance(smk.config, rule="manifest"))
    Path(smk.output[0]).write_text(text)


main(snakemake)  # noqa: F821
