# Stage 4: the de Sitter field that each dictionary derives from each trained run (diffrax), and
# each scheduled run's own history (exact image, continuum history; F7); the training file gives
# the adiabatic dictionary its measured kappa_a(n).


rule cosmology:
    input:
        ntk=f"{RESULTS}/ntk/{{dataset}}/{{job}}.nc",
        train=f"{RESULTS}/train/{{dataset}}/{{job}}.nc",  # only its kappa_a(n) is read
    output:
        f"{RESULTS}/cosmology/{{dataset}}/{{job}}.nc",
    params:
        code=CODE["cosmology.py"],
        cosmology=canonical(config["cosmology"]),
    priority: lambda wc: PRIORITY.get(f"cosmology/{wc.dataset}/{wc.job}", 0)
    log:
        f"{RESULTS}/logs/cosmology/{{dataset}}/{{job}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/cosmology/{{dataset}}/{{job}}.tsv"
    conda:
        "../envs/nncosmo.yaml"
    script:
        "../../scripts/cosmology.py"
