"""nncosmo.slurmlog: SLURM's reason for a failed job, read from the logs a SLURM run leaves
(the line formats below are those of snakemake-executor-plugin-slurm 2.8 and slurmstepd 22.05,
as tests/test_slurm.py sees them on a real cluster)."""

from nncosmo.slurmlog import slurm_failure_reasons


def test_reasons_of_failed_jobs_only_each_line_once(tmp_path):
    killed, fine = tmp_path / "7.log", tmp_path / "8.log"
    memory = "slurmstepd-vm: error: StepId=7.batch exceeded memory limit (149 > 62), being killed"
    killed.write_text(
        f"Building DAG of jobs...\n{memory}\n{memory}\nsrun: warning: other\n"
        "srun: error: task 0 killed\nslurmstepd-vm: done with job\n"  # not slurmstepd errors
    )
    fine.write_text("slurmstepd-vm: error: not a failed job's line\n")
    main_log = tmp_path / "run.snakemake.log"
    main_log.write_text(
        f"Job 0 has been submitted with SLURM jobid 7 (log: {killed}).\n"
        f"Job 1 has been submitted with SLURM jobid 8 (log: {fine}).\n"
        "    message: SLURM-job '7' failed, SLURM status is: 'FAILED'. Detailed failure reason\n"
        "    message: SLURM-job '7' failed, SLURM status is: 'FAILED'.\n"  # the summary repeats it
    )
    assert slurm_failure_reasons([str(main_log)]) == [f"SLURM job 7: {memory}"]


def test_a_missing_log_gives_no_reason_and_no_error(tmp_path):
    main_log = tmp_path / "run.snakemake.log"
    main_log.write_text("message: SLURM-job '9' failed, SLURM status is: 'CANCELLED'.\n")
    assert slurm_failure_reasons([str(main_log), str(tmp_path / "absent.log")]) == []
