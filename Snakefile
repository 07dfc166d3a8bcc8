# nncosmo: data -> training -> NTK -> cosmological integration -> duality fits -> figures, claims.
# Run with `snakemake --cores 2`; bigger presets with `--configfile workflow/presets/<name>.yaml`.
import os
import re
import sys
from pathlib import Path

from snakemake.utils import min_version

import nncosmo
from nncosmo.codedeps import rule_code
from nncosmo.config import (
    built_figures,
    canonical,
    figure_jobs,
    figure_settings,
    check_config,
    check_yaml_syntax,
    config_errors_exit,
    disk_note,
    jax_cache_env,
    job_priorities,
    jobs,
    validate_config,
)
from nncosmo.locks import clear_stale_lock, forget_owner, locked, record_owner
from nncosmo.manifest import check_manifest, earlier_build_note, invocation
from nncosmo.slurmlog import slurm_failure_reasons

min_version("9.17")  # callable `priority:` (9.16.3 refuses it; 9.17.0 runs the tiny preset)

# a config error stops the run with its message alone (config_errors_exit: no traceback lines)
with config_errors_exit():
    check_yaml_syntax("config.yaml")  # Snakemake's own message names neither file nor line


configfile: "config.yaml"


with config_errors_exit():
    validate_config(config, f"{workflow.basedir}/workflow/schemas/config.schema.yaml")
    check_config(config)

JOBS = jobs(config)
# of the jobs ready to run: the earliest stage first, the costliest first (config.job_priorities)
PRIORITY = job_priorities(config)
if workflow.is_main_process and (note := disk_note(config)):
    print(f"nncosmo: {note}", file=sys.stderr)

MODE = invocation(sys.argv[1:]) if workflow.is_main_process else "other"

# A SIGKILLed run leaves Snakemake's lock behind; clear it when its holder is provably dead, and
# only in a run that executes jobs (a -n, --lint or --report stops no process).
if MODE == "run" and (cleared := clear_stale_lock()):
    print(f"nncosmo: {cleared}", file=sys.stderr)

RESULTS = "results"


# JAX's persistent compilation cache, for every job (the environment is inherited): reruns and
# jobs of equal shapes load their compiled programs instead of compiling them. It holds compiled
# executables only, never results; MANIFEST does not list it; deleting it is always safe.
os.environ.update(jax_cache_env(f"{RESULTS}/.jax_cache"))

# Result files that are missing or changed since MANIFEST was written are removed with it, so
# this run rebuilds them and everything downstream (nncosmo.manifest); a dry run only reports,
# other commands (--report, --lint, --unlock...) and a run while another holds the lock skip it.
if MODE != "other" and not locked():
    for message in check_manifest(f"{RESULTS}/MANIFEST", dry_run=MODE == "dry-run"):
        print(f"nncosmo: {message}", file=sys.stderr)

# Per script, hashes of the code (not comments, docstrings or layout: nncosmo.codedeps.code_digest)
# of the nncosmo modules it runs (import graph, nncosmo.codedeps); every rule gets its script's as
# a param, so an edit to one of them reruns the rule. The script's own code hash too: Snakemake's
# "code" trigger compares only the script's mtime (a touch, checkout or fresh clone would rerun
# the rule), so the profiles drop that trigger (rerun-triggers) and rely on these params.
CODE = rule_code(Path(workflow.basedir, "scripts").glob("*.py"), Path(nncosmo.__file__).parent)


onstart:
    record_owner(local=workflow.local_exec)
    # This run executes jobs (onstart is skipped for dry runs and "Nothing to be done"): MANIFEST
    # stops describing results/ with the first file a job writes, and the manifest job writes it
    # anew at the end. Removed now, so that a run killed or failed before then leaves none, and
    # the next run does not take the files this one finished for hand edits and remove them.
    Path(f"{RESULTS}/MANIFEST").unlink(missing_ok=True)


onsuccess:
    forget_owner()


onerror:
    forget_owner()
    # why SLURM killed a job (memory, time, scancel), from its SLURM log (nncosmo.slurmlog)
    for reason in slurm_failure_reasons(log):
        print(f"nncosmo: {reason}", file=sys.stderr)


# Only what this config plans: a typo or an unplanned job (results/train/teacher/w64_seed3.nc) is
# "no rule to produce" instead of a KeyError in a params function or a train job with no runs.
wildcard_constraints:
    dataset="|".join(map(re.escape, config["datasets"])),
    job="|".join(sorted({re.escape(job) for _, job in JOBS})),
    target="|".join(map(re.escape, config["cosmologies"]["targets"])),


include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/ntk.smk"
include: "workflow/rules/cosmology.smk"
include: "workflow/rules/duality.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/figures.smk"


rule all:
    default_target: True
    input:
        FIGURES,
        f"{RESULTS}/claims.json",
        f"{RESULTS}/MANIFEST",
