"""Reusable widgets of the keyscope TUI (they display; screens decide)."""
