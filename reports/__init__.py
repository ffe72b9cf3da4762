"""Renderers of run results: Rich terminal tables and Markdown reports."""
