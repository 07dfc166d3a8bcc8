"""Rule manifest: sha256, size and mtime of every result file plus the provenance summary.

With claims.on_failure "error" and a failing claim, the run fails here instead, without MANIFEST:
claims.json and claims.tsv are kept for reading (a failed job's outputs are removed, so the claims
rule itself never fails).
"""

import json
import sys
from pathlib import Path

from nncosmo.manifest import failing_claims, write_manifest
from nncosmo.provenance import end_job, provenance, start_job


def main(smk) -> None:
    log = start_job(smk, "manifest")
    failed = failing_claims(json.loads(Path(smk.input.claims).read_text()), smk.params.on_failure)
    if failed:
        log.error(
            "failing claims: %s (claims.on_failure is 'error'; %s is kept, no MANIFEST)",
            failed,
            smk.input.claims,
        )
        sys.exit(1)
    write_manifest(smk.output[0], list(smk.input), provenance(smk.config, rule="manifest"))


main(snakemake)  # noqa: F821
end_job()
