"""Try the bot locally: mastodon_mock on 127.0.0.1:3000 (token `alice_token`) and the fake
Bluesky PDS (tests/bskyfake.py) on 127.0.0.1:2583, until Ctrl-C. See docs/bot.md."""

from __future__ import annotations

import argparse
import threading

from aiohttp import web

from tests import bskyfake

if __name__ == "__main__":
    import uvicorn
    from mastodon_mock.app import create_app
    from mastodon_mock.testing.server import _default_config

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mastodon-port", type=int, default=3000)
    parser.add_argument("--bluesky-port", type=int, default=2583)
    args = parser.parse_args()
    masto = uvicorn.Server(
        uvicorn.Config(
            create_app(_default_config(None)), host="127.0.0.1", port=args.mastodon_port, log_level="warning"
        )
    )
    threading.Thread(target=masto.run, daemon=True).start()
    print(f"mastodon_mock: http://127.0.0.1:{args.mastodon_port} (token alice_token; web UI at /_ui/)")
    print(f"fake Bluesky:  http://127.0.0.1:{args.bluesky_port} (handle {bskyfake.HANDLE}; /_fake/posts)")
    web.run_app(bskyfake.make_app(), host="127.0.0.1", port=args.bluesky_port, print=None)
