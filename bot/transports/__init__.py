"""Transports: the only code that knows a chat library (DESIGN.md §2)."""
