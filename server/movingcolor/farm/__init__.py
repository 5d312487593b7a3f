"""Render-farm integration: job templates and submission for existing farm engines."""

from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "templates"
