"""Rule claims: measure every claim of FIGURES.md, write claims.json and a table."""

import sys
from pathlib import Path

from nncosmo.claims import Results, all_claims, to_json, to_table
from nncosmo.provenance import provenance, stage_logger


def main(smk) -> None:
    log = stage_logger(smk.log[0], "claims")
    results = Results.load(smk.input, smk.config)
    claims = all_claims(results)
    Path(smk.output.json).write_text(to_json(claims, provenance(smk.config, rule="claims")))
    Path(smk.output.table).write_text(to_table(claims))
    failed = [c.id for c in claims if not c.passed]
    for c in claims:
        log.info(
            "%s %-28s measured %s (tolerance %s)",
            "PASS" if c.passed else "FAIL",
            c.id,
            c.measured,
            c.tolerance,
        )
    log.info("%d of %d claims pass", len(claims) - len(failed), len(claims))
    if failed and smk.params.claims["on_failure"] == "error":
        log.error("failing claims: %s (claims.on_failure is 'error')", failed)
        sys.exit(1)


main(snakemake)  # noqa: F821
