"""SIRI-SX 2.1, DATEX II v3.5 and CAP 1.2 re-published from the one store."""
