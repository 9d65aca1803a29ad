"""Where ML teams already look: MLflow runs, Hugging Face model cards, OpenMetrics text.

Each exporter reads stored run records and writes them in another tool's format; none
measures or decides anything. `docs/integrations.md` shows each one in use.
"""
