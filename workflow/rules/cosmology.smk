# Stage 4: the de Sitter field that each dictionary derives from each trained run (diffrax).


rule cosmology:
    input:
        ntk=f"{RESULTS}/ntk/{{dataset}}/w{{width}}.nc",
    output:
        f"{RESULTS}/cosmology/{{dataset}}/w{{width}}.nc",
    params:
        cosmology=config["cosmology"],
    log:
        f"{RESULTS}/logs/cosmology/{{dataset}}/w{{width}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/cosmology/{{dataset}}/w{{width}}.tsv"
    conda:
        "../envs/nncosmo.yaml"
    script:
        "../../scripts/cosmology.py"
