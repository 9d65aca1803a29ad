"""Rendering: the PR comment (Markdown), the terminal verdict, plots. Never decides."""

from __future__ import annotations

from pepr_gate.records import load_check_result

__all__ = ["load_check_result"]
