# Stages 6 and 7: figures F1-F8 (PNG + PDF, with report captions) and the checked claims.

FIGURE_STEMS = {
    "F1": "F1_background",
    "F2": "F2_ntk",
    "F3": "F3_lambda",
    "F4": "F4_perturbations",
    "F5": "F5_width",
    "F6": "F6_phase_diagram",
    "F7": "F7_histories",
    "F8": "F8_reverse",
}
FIGURES = [f"{RESULTS}/figures/{stem}.{ext}" for stem in FIGURE_STEMS.values()
           for ext in ("png", "pdf")]
STAGE_INPUTS = {
    stage: [f"{RESULTS}/{stage}/{d}/{job}.nc" for d, job in JOBS]
    for stage in ("ntk", "cosmology", "duality")
}
# the data sets' inputs x: F5 and the claims compute the analytic infinite-width NTK on them
DATA_INPUTS = expand(f"{RESULTS}/data/{{dataset}}.nc", dataset=sorted({d for d, _ in JOBS}))
# F1-F6 read the sweeps' stages, F8 only the simulations (results/simulate, simulate.smk)
FIGURE_INPUTS = {
    fig: {"simulate": list(SIMULATIONS.values())} if fig == "F8"
    else {**STAGE_INPUTS, "data": DATA_INPUTS}
    for fig in FIGURE_STEMS
}

for fig, stem in FIGURE_STEMS.items():

    rule:
        name:
            f"figure_{fig}"
        input:
            **FIGURE_INPUTS[fig],
        output:
            png=report(
                f"{RESULTS}/figures/{stem}.png",
                caption=f"../report/{fig}.rst",
                category="Figures",
            ),
            pdf=f"{RESULTS}/figures/{stem}.pdf",
        params:
            code=CODE["figure.py"],
            figure=fig,
            figures=config["figures"],
        log:
            f"{RESULTS}/logs/figures/{stem}.log",
        benchmark:
            f"{RESULTS}/benchmarks/figures/{stem}.tsv"
        conda:
            "../envs/nncosmo.yaml"
        script:
            "../../scripts/figure.py"


rule claims:
    input:
        **STAGE_INPUTS,
        data=DATA_INPUTS,
        simulate=list(SIMULATIONS.values()),
    output:
        json=f"{RESULTS}/claims.json",
        table=report(
            f"{RESULTS}/claims.tsv", caption="../report/claims.rst", category="Claims"
        ),
    params:
        code=CODE["claims.py"],
        figures=config["figures"],
        claims=config["claims"],
    log:
        f"{RESULTS}/logs/claims.log",
    benchmark:
        f"{RESULTS}/benchmarks/claims.tsv"
    conda:
        "../envs/nncosmo.yaml"
    script:
        "../../scripts/claims.py"


rule manifest:
    input:
        DATA_INPUTS,
        [f"{RESULTS}/{stage}/{d}/{job}.nc" for stage in ("train",) for d, job in JOBS],
        *STAGE_INPUTS.values(),
        SIMULATIONS.values(),
        FIGURES,
        f"{RESULTS}/claims.json",
        f"{RESULTS}/claims.tsv",
    output:
        f"{RESULTS}/MANIFEST",
    params:
        code=CODE["manifest.py"],
    log:
        f"{RESULTS}/logs/manifest.log",
    conda:
        "../envs/nncosmo.yaml"
    script:
        "../../scripts/manifest.py"
