# Stages 6 and 7: figures F1-F8 (PNG + PDF, with report captions) and the checked claims.

# figures.jobs jobs render the built figures (figures.build), the k-th built figure in job
# k mod jobs (nncosmo.config.figure_jobs): each job reads the results once and pays the Python
# and matplotlib start-up once for its figures; two jobs (the default) render side by side at
# the end of a run, where one job rendered while the other core idled (benchmarks/README.md §12).
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
BUILT = built_figures(config)
FIGURES = [f"{RESULTS}/figures/{FIGURE_STEMS[fig]}.{ext}" for fig in BUILT for ext in ("png", "pdf")]
# An earlier run's figures that figures.build no longer names, and simulations of targets no longer
# simulated, stay where they are (never deleted), but nothing keeps them current: say so.
UNBUILT = {fig: stem for fig, stem in FIGURE_STEMS.items() if fig not in BUILT}
if MODE != "other" and (note := earlier_build_note(RESULTS, UNBUILT, SIMULATIONS.values())):
    print(f"nncosmo: {note}", file=sys.stderr)
STAGE_INPUTS = {
    stage: [f"{RESULTS}/{stage}/{d}/{job}.nc" for d, job in JOBS]
    for stage in ("ntk", "cosmology", "duality")
}
# the data sets' inputs x: F5 and the claims compute the analytic infinite-width NTK on them
DATA_INPUTS = expand(f"{RESULTS}/data/{{dataset}}.nc", dataset=sorted({d for d, _ in JOBS}))
# F1-F7 read the sweeps' stages, F8 only the simulations (results/simulate, simulate.smk: empty
# unless F8 is built)
RESULT_INPUTS = {**STAGE_INPUTS, "data": DATA_INPUTS, "simulate": list(SIMULATIONS.values())}
# what the claims read: every figure setting but the rendering (a new dpi redraws, not re-measures)
# and the jobs (figures.jobs only says which job draws a figure)
CLAIM_SETTINGS = canonical(
    {key: value for key, value in config["figures"].items() if key not in ("dpi", "jobs")}
)


# per built figure: outputs <fig>_png (in the report, with the figure's caption) and <fig>_pdf
FIGURE_OUTPUTS = {
    fig: {
        f"{fig}_png": report(
            f"{RESULTS}/figures/{FIGURE_STEMS[fig]}.png",
            caption=f"../report/{fig}.rst",
            category="Figures",
        ),
        f"{fig}_pdf": f"{RESULTS}/figures/{FIGURE_STEMS[fig]}.pdf",
    }
    for fig in BUILT
}


for part, figures in enumerate(figure_jobs(config), start=1):

    rule:
        name:
            f"figures_{part}"
        input:
            # the sweeps' stages and data sets for F1-F7, the simulations for F8: a changed
            # target re-renders only the job that draws F8
            **{
                key: files
                for key, files in RESULT_INPUTS.items()
                if ("F8" in figures if key == "simulate" else bool(set(figures) - {"F8"}))
            },
        output:
            **{name: path for fig in figures for name, path in FIGURE_OUTPUTS[fig].items()},
        params:
            code=CODE["figures.py"],
            build=figures,
            # the settings this job's figures read (a changed reference re-renders F4's job only)
            figures=figure_settings(config, figures),
        log:
            f"{RESULTS}/logs/figures_{part}.log",
        benchmark:
            f"{RESULTS}/benchmarks/figures_{part}.tsv"
        conda:
            "../envs/nncosmo.yaml"
        script:
            "../../scripts/figures.py"


rule claims:
    input:
        **RESULT_INPUTS,
    output:
        json=f"{RESULTS}/claims.json",
        table=report(
            f"{RESULTS}/claims.tsv", caption="../report/claims.rst", category="Claims"
        ),
    params:
        code=CODE["claims.py"],
        build=BUILT,
        figures=CLAIM_SETTINGS,
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
        sorted({*DATA_INPUTS, *([NETWORK_DATA] if SIMULATIONS else [])}),
        [f"{RESULTS}/{stage}/{d}/{job}.nc" for stage in ("train",) for d, job in JOBS],
        *STAGE_INPUTS.values(),
        SIMULATIONS.values(),
        FIGURES,
        f"{RESULTS}/claims.tsv",
        claims=f"{RESULTS}/claims.json",
    output:
        f"{RESULTS}/MANIFEST",
    params:
        code=CODE["manifest.py"],
        on_failure=config["claims"]["on_failure"],
    log:
        f"{RESULTS}/logs/manifest.log",
    conda:
        "../envs/nncosmo.yaml"
    script:
        "../../scripts/manifest.py"
