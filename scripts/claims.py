"""Rule claims: measure the claims of docs/figures.md of the built figures (figures.build),
write claims.json and a table."""

import sys
from pathlib import Path

from nncosmo.claims import all_claims, counts, interval_text, to_json, to_table
from nncosmo.provenance import end_job, provenance, start_job
from nncosmo.results import Results


def main(smk) -> None:
    log = start_job(smk, "claims")
    claims = all_claims(Results.load(smk.input, smk.config), smk.params.build)
    Path(smk.output.json).write_text(to_json(claims, provenance(smk.config, rule="claims")))
    Path(smk.output.table).write_text(to_table(claims))
    for c in claims:
        shown = c.reason if c.verdict == "untestable" else f"measured {c.measured:.4g}"
        if c.interval is not None:
            shown += f", {interval_text(c)}" + (f"; {c.reason}" if c.reason else "")
        log.info("%-10s %-34s %s (tolerance %s)", c.verdict.upper(), c.id, shown, c.tolerance)
    tally = counts(claims)
    log.info("%(pass)d pass, %(fail)d fail, %(untestable)d untestable", tally)
    if tally["fail"] and smk.params.claims["on_failure"] == "error":
        failed = [c.id for c in claims if c.verdict == "fail"]
        log.error("failing claims: %s (claims.on_failure is 'error')", failed)
        sys.exit(1)


main(snakemake)  # noqa: F821
end_job()
