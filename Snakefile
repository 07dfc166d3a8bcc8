# nncosmo: data -> training -> NTK -> cosmological integration -> duality fits -> figures, claims.
# Run with `snakemake --cores 2`; bigger presets with `--configfile workflow/presets/<name>.yaml`.
from snakemake.utils import min_version, validate

from nncosmo.config import check_config, jobs

min_version("8.20")


configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")
check_config(config)

JOBS = jobs(config)
RESULTS = "results"


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
