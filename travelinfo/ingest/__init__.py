"""Collecting: the scheduler, collectors (fetch bytes) and pure parsers (bytes -> Batch)."""
