"""GitHub: event context, REST client, publishing (summary, outputs, annotations, comment).

Nothing here measures or decides; `pepr_gate.github.ci.run_ci` strings the steps of
`pepr-gate ci` together.
"""
