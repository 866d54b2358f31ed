"""The JSON API: routes, query parameters, OpenAPI, API keys, rate limits."""
