"""Web Push (RFC 8030/8291/8292): personal commute alerts to browsers, delivered durably."""
