# Stage 1: data sets as x(sample, feature), y(sample).


rule data:
    output:
        f"{RESULTS}/data/{{dataset}}.nc",
    params:
        code=CODE["make_data.py"],
        spec=lambda wc: canonical(config["datasets"][wc.dataset]),
    log:
        f"{RESULTS}/logs/data/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/data/{{dataset}}.tsv"
    conda:
        "../envs/nncosmo.yaml"
    script:
        "../../scripts/make_data.py"
