"""Thread counts on many-core machines: the first source of run-to-run noise on a CPU job.

PyTorch, NumPy (OpenBLAS, MKL) and OpenMP start one thread per core when nothing says
otherwise. On a runner with many cores a small training job then spends its time
synchronising threads, takes several times longer, and varies with whatever else runs;
a fixed count (`OMP_NUM_THREADS` and friends) makes it cheap and repeatable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
MANY_CORES = 8  # at or above this many CPUs an unset count is worth a sentence


def unset_thread_note(env: Mapping[str, str], cpus: int | None,
                      config_envs: Iterable[Mapping[str, str]] = ()) -> str | None:
    """A sentence when this machine has many cores and no thread count is set, either in
    the environment or in the config's `[run] env`; None otherwise."""
    if cpus is None or cpus < MANY_CORES:
        return None
    named = set(env).union(*(set(e) for e in config_envs))
    if named & set(THREAD_VARS):
        return None
    return (f"this machine has {cpus} CPUs and none of {', '.join(THREAD_VARS)} is set: "
            "PyTorch and NumPy then start a thread per core, so a small job runs slower and "
            "varies more from run to run. Fix the count for the job, e.g. "
            '[run] env = { OMP_NUM_THREADS = "4" } in pepr.toml '
            "(the docs page 'Making a CI benchmark of a training job' has the rest).")
