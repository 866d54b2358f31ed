"""Operators' notices: API, schema, audit log, bootstrap key."""
