"""pepr-gate: a CI gate on PePR, performance per resource unit."""

__version__ = "0.1.0"
