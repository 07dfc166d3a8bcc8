# Stage 3: empirical NTK at the checkpoints of every run; eigenmodes; residual projections.


rule ntk:
    input:
        data=f"{RESULTS}/data/{{dataset}}.nc",
        train=f"{RESULTS}/train/{{dataset}}/w{{width}}.nc",
    output:
        f"{RESULTS}/ntk/{{dataset}}/w{{width}}.nc",
    params:
        ntk=config["ntk"],
        model=config["model"],
    log:
        f"{RESULTS}/logs/ntk/{{dataset}}/w{{width}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/ntk/{{dataset}}/w{{width}}.tsv"
    conda:
        "../envs/nncosmo.yaml"
    script:
        "../../scripts/ntk.py"
