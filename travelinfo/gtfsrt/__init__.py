"""GTFS-Realtime ServiceAlerts out."""
