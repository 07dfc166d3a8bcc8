# Stage 2: Flax MLP trained by heavy-ball momentum; one job per (dataset, width), all its
# (eta, beta, seed) runs in one vmapped scan.
from nncosmo.config import runs_for


rule train:
    input:
        data=f"{RESULTS}/data/{{dataset}}.nc",
    output:
        f"{RESULTS}/train/{{dataset}}/w{{width}}.nc",
    wildcard_constraints:
        width=r"\d+",
    params:
        model=config["model"],
        training=config["training"],
        runs=lambda wc: runs_for(config, wc.dataset, int(wc.width)),
    log:
        f"{RESULTS}/logs/train/{{dataset}}/w{{width}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{dataset}}/w{{width}}.tsv"
    conda:
        "../envs/nncosmo.yaml"
    script:
        "../../scripts/train.py"
