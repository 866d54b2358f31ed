"""`/api/v1` (an index of links) and `/api/v1/docs`: the OpenAPI document as a page.

The page is rendered here from the document itself (no CDN, no script: it works under the
site's CSP and without JavaScript), in the site's chrome in Swedish or English (its labels are
the `api_*` entries of the one catalogue, `web/i18n.py`); the operation texts are the
document's own (English).
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from aiohttp import web
from markupsafe import Markup

from travelinfo.api import openapi
from travelinfo.runtime import appkeys as appmod
from travelinfo.runtime.server import BadParameter, Rendered, json_response, respond
from travelinfo.web import routes as pages
from travelinfo.web.filters import Filters

METHODS = ("get", "post", "put", "patch", "delete")
_CODE = re.compile(r"`([^`]+)`")


def text(value: str | None) -> Markup:
    """Escaped text with `code` spans (the only markup the document's texts use inline)."""
    escaped = html.escape(value or "", quote=True)
    return Markup(_CODE.sub(r"<code>\1</code>", escaped))  # noqa: S704 (escaped just above)


def blocks(value: str | None) -> list[tuple[str, Any]]:
    """The document's description split into ("p", text) and ("table", rows) blocks."""
    out: list[tuple[str, Any]] = []
    for block in re.split(r"\n\s*\n", value or ""):
        lines = [line.strip() for line in block.strip().splitlines()]
        if lines and all(line.startswith("|") for line in lines):
            rows = [[text(c.strip()) for c in line.strip("|").split("|")] for line in lines]
            out.append(("table", [r for r in rows if not all(set(str(c)) <= set("-: ") for c in r)]))
        elif lines:
            out.append(("p", text(" ".join(lines))))
    return out


def schema_label(schema: dict[str, Any]) -> str:
    """A short type for a parameter's schema: `string`, `integer 1..1000`, `one of a, b`."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"])
    kind = schema.get("type", "any")
    kind = " or ".join(kind) if isinstance(kind, list) else str(kind)
    if kind == "array":
        kind = "array of " + schema_label(schema.get("items", {}))
    if "minimum" in schema or "maximum" in schema:
        kind += f" {schema.get('minimum', '')}..{schema.get('maximum', '')}"
    return kind


def operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operation of the document, in its order, with what the page shows of it."""
    out = []
    for path, item in doc["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            body = op.get("requestBody", {}).get("content", {})
            media, content = next(iter(body.items()), ("", {}))
            content = dict(content)
            examples = [e["value"] for e in content.get("examples", {}).values()]
            out.append(
                {
                    "id": op.get("operationId")
                    or re.sub(r"[^A-Za-z0-9]+", "-", f"{method}{path}").strip("-"),
                    "method": method.upper(),
                    "path": path,
                    "tag": (op.get("tags") or ["other"])[0],
                    "summary": text(op.get("summary")),
                    "blocks": blocks(op.get("description")),
                    "public": op.get("security") == [],
                    "params": [
                        {**p, "label": schema_label(p.get("schema", {})), "about": text(p.get("description"))}
                        for p in op.get("parameters", [])
                    ],
                    "body": schema_label(content.get("schema", {})) if body else None,
                    "media": media,
                    "example": json.dumps(examples[0], ensure_ascii=False, indent=2) if examples else None,
                    "responses": [
                        (code, text(_response(doc, r).get("description")))
                        for code, r in op["responses"].items()
                    ],
                }
            )
    return out


def sections(
    doc: dict[str, Any], ops: list[dict[str, Any]]
) -> list[tuple[dict[str, Any], Markup, list[Any]]]:
    """(tag, its text, its operations) in the document's order; untagged ones last, never dropped."""
    tags = list(doc.get("tags", []))
    known = {t["name"] for t in tags}
    tags += [{"name": name} for name in dict.fromkeys(o["tag"] for o in ops) if name not in known]
    return [(t, text(t.get("description")), [o for o in ops if o["tag"] == t["name"]]) for t in tags]


def _response(doc: dict[str, Any], r: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in r:
        found: dict[str, Any] = doc["components"]["responses"][r["$ref"].rsplit("/", 1)[-1]]
        return found
    return r


async def docs_page(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/docs: every operation of the document, grouped by tag."""
    lang = pages.page_lang(request)
    allowed = {"lang"}
    unknown = sorted(k for k in request.query if k not in allowed and not k.startswith("_"))
    if unknown:
        raise BadParameter(unknown[0], "unknown parameter (known: lang)")
    app = request.app

    async def render() -> Rendered:
        doc = openapi.document()
        ops = operations(doc)
        ctx = pages._base(request, lang, [], "/api/v1/docs")
        ctx.update(
            filters=Filters(),
            warnings=pages._warnings(*await pages.recent(app)),  # a public warning leads every page
            doc=doc,
            ops=ops,
            tags=sections(doc, ops),
            schemas=[
                (name, json.dumps(s, ensure_ascii=False, indent=2))
                for name, s in doc["components"]["schemas"].items()
            ],
        )
        body = app[pages.ENV].get_template("api_docs.html").render(**ctx)
        return Rendered.make(
            body.encode(), pages.HTML, app[appmod.HUB].last_change_at, pages.page_headers(app)
        )

    rendered = await app[appmod.CACHE].get(("api:docs", lang), render)
    return respond(request, rendered, cache_control=pages.CACHE_CONTROL)


async def index(request: web.Request) -> web.Response:
    """GET /api/v1: where everything is."""
    unknown = sorted(k for k in request.query if not k.startswith("_"))
    if unknown:
        raise BadParameter(unknown[0], "unknown parameter (this resource takes none)")
    links = {
        "openapi": "/api/v1/openapi.json",
        "docs": "/api/v1/docs",
        "disruptions": "/api/v1/disruptions",
        "geojson": "/api/v1/disruptions.geojson",
        "sources": "/api/v1/sources",
        "stream": "/api/v1/stream",
        "websocket": "/api/v1/ws",
        "webhooks": "/api/v1/webhooks",
        "notices": "/api/v1/notices",
    }
    return json_response({"name": "travelinfo API", "version": "1", "links": links})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1", index)
    app.router.add_get("/api/v1/docs", docs_page)
