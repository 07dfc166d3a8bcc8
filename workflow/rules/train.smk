# Stage 2: Flax MLP trained by heavy-ball momentum; one job per (dataset, width) by default, or
# finer along the axes config["split_by"] names; all runs of a job in one vmapped scan.
from nncosmo.config import job_runs, job_width


rule train:
    input:
        data=f"{RESULTS}/data/{{dataset}}.nc",
    output:
        f"{RESULTS}/train/{{dataset}}/{{job}}.nc",
    params:
        code=CODE["train.py"],
        model=canonical(config["model"]),
        training=canonical(config["training"]),
        # the kernel of the v_a(0) whose kappa_a(n) training measures: the ntk stage's
        ntk_method=config["ntk"]["method"],
        width=lambda wc: job_width(wc.job),
        runs=lambda wc: canonical(job_runs(config, wc.dataset, wc.job)),
    resources:
        gpu=config["gpus_per_job"],  # cluster profiles turn it into a GPU request (--gpus)
    priority: lambda wc: PRIORITY.get(f"train/{wc.dataset}/{wc.job}", 0)
    log:
        f"{RESULTS}/logs/train/{{dataset}}/{{job}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{dataset}}/{{job}}.tsv"
    conda:
        "../envs/nncosmo.yaml"
    script:
        "../../scripts/train.py"
