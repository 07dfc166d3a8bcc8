# Stage 5: Prony fits of (H, m^2) per mode and network-vs-field residuals, both dictionaries.


rule duality:
    input:
        ntk=f"{RESULTS}/ntk/{{dataset}}/w{{width}}.nc",
        cosmology=f"{RESULTS}/cosmology/{{dataset}}/w{{width}}.nc",
    output:
        f"{RESULTS}/duality/{{dataset}}/w{{width}}.nc",
    params:
        duality=config["duality"],
    log:
        f"{RESULTS}/logs/duality/{{dataset}}/w{{width}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/duality/{{dataset}}/w{{width}}.tsv"
    conda:
        "../envs/nncosmo.yaml"
    script:
        "../../scripts/duality.py"
