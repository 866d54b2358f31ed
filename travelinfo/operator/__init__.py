"""The operator web UI at `/operator`: sign in with an organisation's API key, write and end notices."""
