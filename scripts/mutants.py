"""Apply each mutation of tests/test_mutants.py by hand, run the test named for it (it must
fail), and put the source back: `python scripts/mutants.py [INDEX ...]`.

Prints KILLED or SURVIVED per mutation and exits 1 when one survives, 2 when a mutation's
source text is no longer in its file (the code moved on: update the list). Run it from
the repository root with the package importable (the tests start `python -m pepr_gate`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# (file, source text, its mutation, the test in tests/test_mutants.py that kills it)
MUTANTS = [
    ('pepr_gate/decide/paired.py',
     'ss = sum((x - mean) ** 2 for x in logs) / 2',
     'ss = sum((x - mean) ** 2 for x in logs)',
     'test_paired_spread_halves_the_variance_of_differences'),
    ('pepr_gate/decide/paired.py',
     'sigma = noise.spread * math.sqrt(2 / n)',
     'sigma = noise.spread * math.sqrt(1 / n)',
     'test_paired_sigma_of_the_mean_difference_is_sqrt_2_over_n'),
    ('pepr_gate/decide/sequential.py',
     'spent(ADAPTIVE_BETA, n, max_looks)',
     'ADAPTIVE_BETA',
     'test_adaptive_looks_split_the_pass_level_too'),
    ('pepr_gate/decide/stats.py',
     'if len(values) < 2 or any(',
     'if len(values) < 3 or any(',
     'test_a_two_run_group_gives_one_degree_of_freedom'),
    ('pepr_gate/decide/stats.py',
     'logs), len(values) - 1',
     'logs), len(values) - 2',
     'test_a_two_run_group_gives_one_degree_of_freedom'),
    ('pepr_gate/decide/gate.py',
     'if verdict != "fail" or settings.accept_label',
     'if verdict not in ("fail", "warn") or settings.accept_label',
     'test_the_accept_label_turns_only_a_fail_into_accepted'),
    ('pepr_gate/store/query.py',
     'want = None if limit is None else limit - len(out)',
     'want = limit',
     'test_a_bad_row_never_makes_a_query_return_more_than_its_limit'),
    ('pepr_gate/store/git.py',
     'stop=stop_after_attempt(self._tries)',
     'stop=stop_after_attempt(self._tries - 1)',
     'test_the_git_store_tries_every_push_it_promises'),
    ('pepr_gate/measure/meter/power.py',
     '(t1 - t0) * (p0 + p1) / 2',
     '(t1 - t0) * p0',
     'test_power_is_integrated_by_trapezoids_not_rectangles'),
    ('pepr_gate/measure/meter/power.py',
     '(t1 - t0) * (p0 + p1) / 2',
     '(t1 - t0) * p1',
     'test_power_is_integrated_by_trapezoids_not_rectangles'),
    ('pepr_gate/measure/meter/rapl.py',
     'delta += d.max_uj',
     'delta = now',
     'test_a_rapl_wrap_keeps_the_energy_before_it_to_the_microjoule'),
    ('pepr_gate/measure/meter/devices.py',
     'if n < len(ordered):',
     'if n <= len(ordered):',
     'test_a_gpu_index_equal_to_the_gpu_count_is_out_of_range'),
    ('pepr_gate/publish/github/api.py',
     'if limited or status >= 500:',
     'if limited or status > 500:',
     'test_http_500_is_retried'),
    ('pepr_gate/publish/dashboard/links.py',
     'text = re.split(r"[?#]", text, maxsplit=1)[0]',
     'text = text',
     'test_a_store_password_in_the_query_never_reaches_the_dashboard'),
    ('pepr_gate/publish/github/context.py',
     'deleted = bool(payload.get("deleted")) or after == ZERO_SHA',
     'deleted = bool(payload.get("deleted"))',
     'test_a_deleted_branch_push_is_not_measured'),
    ('pepr_gate/publish/github/context.py',
     'deleted = bool(payload.get("deleted")) or after == ZERO_SHA',
     'deleted = after == ZERO_SHA',
     'test_a_deleted_branch_push_is_not_measured'),
    ('pepr_gate/services/ci.py',
     'site_later = opts.dashboard and not ctx.fork and _stores_site(store.url)',
     'site_later = opts.dashboard and _stores_site(store.url)',
     'test_a_fork_run_is_never_held_back_for_the_dashboard'),
    ('pepr_gate/services/ci_measure.py',
     'no_store = ctx.fork or hold_back',
     'no_store = hold_back',
     'test_a_fork_run_is_never_held_back_for_the_dashboard'),
]


def main(only: list[str]) -> int:
    survived = 0
    for i, (rel, old, new, test) in enumerate(MUTANTS):
        if only and str(i) not in only:
            continue
        path = ROOT / rel
        src = path.read_text(encoding="utf-8")
        if src.count(old) != 1:
            print(f"{i:2} {rel}: {old!r} is not in the file once; update scripts/mutants.py")
            return 2
        path.write_text(src.replace(old, new), encoding="utf-8")
        try:
            done = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                 "tests/test_mutants.py", "-k", test],
                cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
        finally:
            path.write_text(src, encoding="utf-8")
        killed = done.returncode != 0
        survived += not killed
        print(f"{i:2} {'KILLED  ' if killed else 'SURVIVED'} {rel}: {new!r} -> {test}",
              flush=True)
        if not killed:
            print(done.stdout[-800:])
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
