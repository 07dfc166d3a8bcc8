# Stage 3: empirical NTK at the checkpoints of every run; eigenmodes; residual projections.


rule ntk:
    input:
        data=f"{RESULTS}/data/{{dataset}}.nc",
        train=f"{RESULTS}/train/{{dataset}}/{{job}}.nc",
    output:
        f"{RESULTS}/ntk/{{dataset}}/{{job}}.nc",
    params:
        code=CODE["ntk.py"],
        ntk=canonical(config["ntk"]),
        model=canonical(config["model"]),
    resources:
        gpu=config["gpus_per_job"],  # cluster profiles turn it into a GPU request (--gpus)
    priority: lambda wc: PRIORITY.get(f"ntk/{wc.dataset}/{wc.job}", 0)
    log:
        f"{RESULTS}/logs/ntk/{{dataset}}/{{job}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/ntk/{{dataset}}/{{job}}.tsv"
    conda:
        "../envs/nncosmo.yaml"
    script:
        "../../scripts/ntk.py"
