"""Diagnostics and their formatters (text, JSON, SARIF)."""
