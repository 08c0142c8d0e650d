"""Command-line entry points. May import every layer."""
