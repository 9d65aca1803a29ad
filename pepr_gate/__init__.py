"""pepr-gate: a CI gate on PePR, performance per resource unit."""

__version__ = "1.0.0"
