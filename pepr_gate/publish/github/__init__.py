"""GitHub: event context, REST client, publishing (summary, outputs, annotations, comment).

Nothing here measures or decides; `pepr_gate.services.ci.run_ci` strings the steps of
`pepr-gate ci` together.
"""
