"""Rule manifest: sha256, size and mtime of every result file plus the provenance summary."""

from nncosmo.manifest import write_manifest
from nncosmo.provenance import end_job, provenance


def main(smk) -> None:
    write_manifest(smk.output[0], list(smk.input), provenance(smk.config, rule="manifest"))


main(snakemake)  # noqa: F821
end_job()
