"""The exchange's rulebook as versioned data, and the pure decisions made with it.

Nothing here does I/O or reads a clock: "now" and every piece of registry state are inputs.
"""
