"""See process.py (the Lava process and its models)."""
