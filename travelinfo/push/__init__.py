"""Push to clients: the change hub, SSE and WebSocket."""
