"""Rendering: the PR comment (Markdown), the terminal verdict, plots. Never decides."""
