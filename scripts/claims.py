"""Rule claims: measure the claims of docs/figures.md of the built figures (figures.build),
write claims.json and a table (the manifest rule applies claims.on_failure)."""

from pathlib import Path

from nncosmo.claims import all_claims, log_lines, to_json, to_table
from nncosmo.io import write_atomically
from nncosmo.provenance import end_job, provenance, start_job
from nncosmo.results import Results


def main(smk) -> None:
    log = start_job(smk, "claims")
    claims = all_claims(Results.load(smk.input, smk.config), smk.params.build)
    doc = to_json(claims, provenance(smk.config, rule="claims"))
    write_atomically(Path(smk.output.json), lambda tmp: tmp.write_text(doc))
    write_atomically(Path(smk.output.table), lambda tmp: tmp.write_text(to_table(claims)))
    for line in log_lines(claims):
        log.info("%s", line)


main(snakemake)  # noqa: F821
end_job()
