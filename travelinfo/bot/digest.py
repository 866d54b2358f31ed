"""The digest post: what the rate budget held back, as headlines and links (pure)."""

from __future__ import annotations

from travelinfo.bot.text import BLUESKY, LABELS, MASTODON, Draft, Limit, _clean, _labels, _trim


def compose_digest(
    new: int,
    other: int,
    lang: str,
    public_url: str,
    items: list[tuple[str, str]] | None = None,
    limit: Limit = MASTODON,
) -> Draft:
    """What the rate budget held back: each item's short headline and link, then `and N more`.

    `items`: (headline, link) of the held-back items, in order. Without items (only updates
    were held back) the digest counts them: `3 uppdateringar: <public_url>/`.
    """
    labels = _labels(lang)
    used = lang if lang in LABELS else "en"
    site = public_url.rstrip("/") + "/"

    def measure(text: str) -> int:
        if limit is BLUESKY:  # links are shown shortened there (their facets hold the URL)
            return limit.measure(text)
        return max(limit.measure(text), len(text))  # a list of links: as a reader sees them

    if items:
        lines = [labels["digest_head"]]
        for i, (headline, url) in enumerate(items):
            rest = len(items) - i - 1 + other
            more = labels["digest_more"].format(n=rest, url=site) if rest else ""
            short = _trim(_clean(headline).rstrip(" ."), lambda t: measure(t) <= 80)
            candidate = "\n".join([*lines, f"• {short} {url}"])
            if measure(candidate + ("\n" + more if more else "")) > limit.size:
                tail = labels["digest_more"].format(n=len(items) - i + other, url=site)
                return Draft("\n".join([*lines, tail]), used)
            lines.append(f"• {short} {url}")
        if other:
            lines.append(labels["digest_more"].format(n=other, url=site).replace("… ", ""))
        return Draft("\n".join(lines), used)
    parts = []
    if new:
        parts.append(labels["digest_new_1"] if new == 1 else labels["digest_new"].format(n=new))
    if other:
        parts.append(labels["digest_other_1"] if other == 1 else labels["digest_other"].format(n=other))
    return Draft(f"{labels['and'].join(parts)}: {site}", used)


def entry_rank(entry: list[str]) -> tuple[int, int]:
    """The rank (`rules.rank` class and severity) kept with a held-back entry; older ones last."""
    try:
        cls, sev = entry[2].split(".")
        return int(cls), int(sev)
    except (IndexError, ValueError):
        return 99, 0
