"""Process plumbing shared by every part: HTTP server toolkit, backoff, limits, secrets."""
