# Stage 8 (F8): the reverse direction, one job per target cosmology of config["cosmologies"]:
# derive the network settings from the target, train, read the field back (nncosmo.simulate).
# Only when F8 is built (figures.build).
SIMULATIONS = {
    name: f"{RESULTS}/simulate/{name}.nc"
    for name in sorted(config["cosmologies"]["targets"])
    if "F8" in built_figures(config)
}
# the network's data set, which the simulations read (the manifest lists it: it may be a data set
# no trained job reads)
NETWORK_DATA = f"{RESULTS}/data/{config['cosmologies']['network']['dataset']}.nc"


rule simulate:
    input:
        data=NETWORK_DATA,
    output:
        f"{RESULTS}/simulate/{{target}}.nc",
    params:
        code=CODE["simulate.py"],
        target=lambda wc: canonical(config["cosmologies"]["targets"][wc.target]),
        network=canonical(config["cosmologies"]["network"]),
        model=canonical(config["model"]),
    priority: lambda wc: PRIORITY.get(f"simulate/{wc.target}", 0)
    log:
        f"{RESULTS}/logs/simulate/{{target}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/simulate/{{target}}.tsv"
    conda:
        "../envs/nncosmo.yaml"
    script:
        "../../scripts/simulate.py"
