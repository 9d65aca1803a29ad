"""GitHub: event context, REST client, publishing (summary, outputs, annotations, comment).

Nothing here measures or decides; `pepr_gate.services.ci.run_ci` strings the steps of
`pepr-gate ci` together. GitHub's own limits and the comment modes live here, once.
"""

# When pepr-gate comments on a PR: the Action's `comment` input, `ci --comment`,
# `comment --comment`.
COMMENT_MODES = ("always", "on-change", "on-regression", "never")
# GitHub refuses comment bodies over 65,536 characters (HTTP 422); keep a margin for the
# hidden markers `compose_body` appends.
MAX_COMMENT_CHARS = 65_000
# A step's job summary may hold at most 1 MiB.
MAX_SUMMARY_BYTES = 1024 * 1024
