# Stage 5: Prony fits of (H, m^2) per mode, network-vs-field residuals, NTK drift laws (training
# file's kappa and f, data's y).


rule duality:
    input:
        ntk=f"{RESULTS}/ntk/{{dataset}}/{{job}}.nc",
        cosmology=f"{RESULTS}/cosmology/{{dataset}}/{{job}}.nc",
        train=f"{RESULTS}/train/{{dataset}}/{{job}}.nc",
        data=f"{RESULTS}/data/{{dataset}}.nc",
    output:
        f"{RESULTS}/duality/{{dataset}}/{{job}}.nc",
    params:
        code=CODE["duality.py"],
        duality=canonical(config["duality"]),
    priority: lambda wc: PRIORITY.get(f"duality/{wc.dataset}/{wc.job}", 0)
    log:
        f"{RESULTS}/logs/duality/{{dataset}}/{{job}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/duality/{{dataset}}/{{job}}.tsv"
    conda:
        "../envs/nncosmo.yaml"
    script:
        "../../scripts/duality.py"
