# nncosmo: data -> training -> NTK -> cosmological integration -> duality fits -> figures, claims.
# Run with `snakemake --cores 2`; bigger presets with `--configfile workflow/presets/<name>.yaml`.
import sys

from snakemake.utils import min_version

from nncosmo.config import check_config, check_yaml_syntax, disk_note, jobs, validate_config
from nncosmo.locks import clear_stale_lock, forget_owner, record_owner

min_version("8.20")

check_yaml_syntax("config.yaml")  # Snakemake's own message names neither file nor line


configfile: "config.yaml"


validate_config(config, f"{workflow.basedir}/workflow/schemas/config.schema.yaml")
check_config(config)

JOBS = jobs(config)
if workflow.is_main_process and (note := disk_note(config)):
    print(f"nncosmo: {note}", file=sys.stderr)

# A SIGKILLed run leaves Snakemake's lock behind; clear it when its holder is provably dead.
if workflow.is_main_process and (cleared := clear_stale_lock()):
    print(f"nncosmo: {cleared}", file=sys.stderr)


onstart:
    record_owner()


onsuccess:
    forget_owner()


onerror:
    forget_owner()


RESULTS = "results"


wildcard_constraints:
    job=r"w\d+(_[a-z]+[^_/]+)*",


include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/ntk.smk"
include: "workflow/rules/cosmology.smk"
include: "workflow/rules/duality.smk"
include: "workflow/rules/figures.smk"


rule all:
    default_target: True
    input:
        FIGURES,
        f"{RESULTS}/claims.json",
        f"{RESULTS}/MANIFEST",
