"""Grading a whole class, on this machine or on a Slurm cluster, one idea per module.

A run directory (`RUN/`) holds everything about one batch, so it can be
inspected, resubmitted and collected from any machine that mounts it:

    RUN/plan.json        what `grader batch plan` decided (assignment, options)
    RUN/assignment.json  the run's frozen copy of a course's own spec file, if any
    RUN/manifest.tsv     index, student, path: one array task per line
    RUN/rejected.tsv     entries of the submissions folder that cannot be graded
    RUN/grade.sbatch     the array-job script, rendered from slurm/grade.sbatch
    RUN/jobs.tsv         every `sbatch` call: job id, time, the indices it covered
    RUN/results/S.json   the results file of student S, moved in place only when
                         grading finished (never half-written, never overwritten
                         unless asked with --regrade, or found corrupt: then it
                         is kept in results/.corrupt/ and S is graded again)
    RUN/failed/S.json    why the last attempt for S produced no results file
    RUN/attempts/S.tsv   one line per start, finish or skip of a task for S
    RUN/logs/            the output of every task (Slurm's JOB_INDEX.out, or
                         local-PID_INDEX.out from `grader batch run`)
    RUN/needs_review.csv the students whose grade a person should check (collect)

Modules: `manifest` finds submissions and reads/writes the manifest, `plan`
renders the sbatch script, `slurm` talks to sbatch/squeue, `task` is what one
array task runs, `state` tells done/failed/running/missing apart, and
`results` reads a results file back and tells a corrupt one, `gradebook`
turns the results into a pandas gradebook, `review` lists the doubtful grades,
`local` grades the class here (`grader batch run`, shown by `display`), and
`preflight` checks at plan time that the accuracy checks' data is here.
"""
