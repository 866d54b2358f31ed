"""One incident across modes: lines a road or shipping event may affect, and incident fusion.

Derived at read time from the stored items and the GTFS reference geometry; never stored, never
mixed with what a source said (docs/model.md: `impacts`, `incident`).
"""
