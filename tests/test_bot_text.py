"""Post composition: Mastodon's length rules, trimming, hashtags, Stockholm times, all-clear."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.storeutil import item
from travelinfo.bot.bluesky import rich_text
from travelinfo.bot.digest import compose_digest
from travelinfo.bot.text import (
    BLUESKY,
    MAX_CHARS,
    bluesky_length,
    compose,
    grapheme_length,
    hashtags,
    is_valid_hashtag,
    mastodon_length,
    validity,
)
from travelinfo.model import Affected, Disruption, Period

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
URL = "https://trafik.example.se"

LONG_SV = (
    "Trafikverket meddelar att E4/E20 Essingeleden i riktning mot Stockholms centrum är helt avstängd "
    "mellan trafikplats Fredhäll och trafikplats Lilla Essingen efter en trafikolycka där flera fordon "
    "är inblandade. Räddningstjänst, polis och bärgare arbetar på platsen och det är mycket långa köer "
    "som sträcker sig förbi Nyboda och Västberga. Trafiken leds om via Södra länken och Essingeleden "
    "söderut, men även omledningsvägarna är hårt belastade. Räkna med kraftigt förlängd restid under "
    "hela eftermiddagen och välj gärna pendeltåg eller tunnelbana om det är möjligt. Mer information "
    "finns på https://www.trafikverket.se/trafikinformation/vag/?TrafficType=personalTraffic&map=1 "
    "och uppdateras löpande. Åtgärden beräknas pågå till klockan 18:00 i kväll enligt räddningsledaren."
)


def road(**kw: object) -> Disruption:
    d = item(
        "SE_STA_TRISSID_1_16503874",
        NOW,
        source="trafikverket",
        header="Olycka. E4/E20 Essingeleden norrgående helt avstängd",
        severity="SEVERE",
        periods=(
            Period(datetime(2026, 11, 25, 13, 30, tzinfo=UTC), datetime(2026, 11, 25, 17, 0, tzinfo=UTC)),
        ),
        affected=(Affected("road", "E4", "Essingeleden"), Affected("road", "E20", "Essingeleden")),
        description=LONG_SV,
    )
    return d.replace(**kw) if kw else d


def test_long_swedish_text_fits_500_with_link_and_hashtags_intact() -> None:
    for factor in (1, 3, 10):
        d = road(description={"sv": LONG_SV * factor})
        text = compose(d, "new", "sv", URL, NOW).text  # type: ignore[union-attr]
        assert mastodon_length(text) <= MAX_CHARS
        assert text.endswith(f"\n\n{URL}/d/trafikverket:SE_STA_TRISSID_1_16503874\n#E4 #E20")
        assert text.startswith("Olycka. E4/E20 Essingeleden norrgående helt avstängd\n")
        assert "Gäller från 25 nov 14:30 till 18:00." in text
        assert "…" in text  # trimmed with an ellipsis, at a word boundary
    # A header alone longer than a post: the header is trimmed, link and hashtags kept.
    d = road(header={"sv": "Mycket lång rubrik " * 60}, description={})
    text = compose(d, "update", "sv", URL, NOW).text  # type: ignore[union-attr]
    assert mastodon_length(text) <= MAX_CHARS and text.startswith("Uppdatering: Mycket lång rubrik")
    assert text.endswith("#E4 #E20") and "Gäller från" in text


def test_urls_count_23_and_trimming_never_cuts_a_url() -> None:
    assert mastodon_length("x https://example.com/" + "a" * 200) == 2 + 23
    assert mastodon_length("se https://sl.se/trafik.") == 3 + 23 + 1  # trailing dot is text
    assert mastodon_length("två http://a.se/1 och https://b.se/2") == 4 + 23 + 5 + 23
    assert mastodon_length("@trafik@mastodon.example hej") == len("@trafik hej")
    assert mastodon_length("åäö🚇") == 4  # code points, not UTF-16 units or bytes
    # Many URLs: far over 500 code points, but within 500 as Mastodon counts.
    urls = " ".join(f"https://www.trafikverket.se/trafikinformation/{i}/{'x' * 40}" for i in range(12))
    text = compose(road(description={"sv": urls}), "new", "sv", URL, NOW).text  # type: ignore[union-attr]
    assert len(text) > MAX_CHARS >= mastodon_length(text)
    assert text.count("https://www.trafikverket.se") == 12
    many = " ".join([urls] * 3)
    text = compose(road(description={"sv": many}), "new", "sv", URL, NOW).text  # type: ignore[union-attr]
    assert mastodon_length(text) <= MAX_CHARS
    kept = [w for w in text.split() if w.startswith("https://www.trafikverket.se")]
    assert kept and all(w.rstrip("…").endswith("x" * 40) for w in kept)


def test_upstream_mentions_are_defused() -> None:
    d = road(description={"sv": "Frågor till @trafikverket eller @sl@mastodon.example."})
    text = compose(d, "new", "sv", URL, NOW).text  # type: ignore[union-attr]
    assert "@trafikverket" not in text and "＠trafikverket" in text and "＠sl@" in text


@pytest.mark.parametrize(
    ("tag", "valid"),
    [
        ("#E4", True),
        ("#Linje14", True),
        ("#Pendeltåg", True),
        ("#Väg73", True),
        ("#14", False),
        ("#E-4", False),
        ("#Linje 14", False),
        ("#", False),
    ],
)
def test_hashtag_validity(tag: str, valid: bool) -> None:
    assert is_valid_hashtag(tag) is valid


def test_hashtags_per_mode_line_and_road() -> None:
    assert hashtags(road()) == ["#E4", "#E20"]
    d = road(affected=(Affected("road", "73"), Affected("road", "E 18"), Affected("road", "E4.20")))
    tags = hashtags(d)
    assert tags[:2] == ["#Väg73", "#E18"] and all(is_valid_hashtag(t) for t in tags)
    metro = road(
        modes=("metro",),
        affected=(
            Affected("route", "9011001001400000", "14 Fruängen–Mörby centrum"),
            Affected("route", "9011001001300000", "13 Norsborg–Ropsten"),
            Affected("stop", "9022001009001001", "T-Centralen"),
        ),
    )
    assert hashtags(metro) == ["#Linje14", "#Linje13", "#Tunnelbanan"]
    for modes, tag in [
        (("rail",), "#Pendeltåg"),
        (("tram",), "#Spårväg"),
        (("bus",), "#Buss"),
        (("ferry",), "#Båt"),
        (("shipping",), "#Sjöfart"),
    ]:
        assert hashtags(road(modes=modes, affected=())) == [tag]
    assert hashtags(road(affected=())) == ["#Trafik"]
    vma = road(
        modes=("road", "bus", "metro", "tram", "rail", "ferry"),
        affected=(),
        categories=("cap:code=VMA",),
    )
    assert hashtags(vma) == ["#VMA", "#Buss", "#Tunnelbanan", "#Spårväg", "#Pendeltåg"]  # at most 5


def test_validity_in_stockholm_local_time() -> None:
    d = road()
    assert validity(d, "sv", NOW) == "Gäller från 25 nov 14:30 till 18:00."
    assert validity(d, "en", NOW) == "Valid from 25 Nov 14:30 until 18:00."
    night = road(
        periods=(Period(datetime(2026, 11, 25, 21, 0, tzinfo=UTC), datetime(2026, 11, 26, 5, tzinfo=UTC)),)
    )
    assert validity(night, "sv", NOW) == "Gäller från 25 nov 22:00 till 26 nov 06:00."
    summer = road(periods=(Period(datetime(2027, 7, 1, 8, 0, tzinfo=UTC)),))
    assert validity(summer, "sv", NOW) == "Gäller från 1 juli 2027 10:00 tills vidare."
    two = road(
        periods=(Period(NOW - timedelta(days=1), NOW - timedelta(hours=20)), Period(NOW + timedelta(hours=2)))
    )
    assert validity(two, "sv", NOW) == "Gäller från 25 nov 15:00 tills vidare (fler tider på webben)."


def test_all_clear_wording_per_kind() -> None:
    text = compose(road(), "end", "sv", URL, NOW).text  # type: ignore[union-attr]
    assert text.startswith("Klart: ") and "trafiken flyter igen." in text and "\nGällde: Olycka." in text
    bus = road(modes=("bus",), affected=(Affected("route", "1", "1 Stora Essingen–Frihamnen"),))
    text = compose(bus, "end", "sv", URL, NOW).text  # type: ignore[union-attr]
    assert text.startswith("Klart: ") and "bussarna går igen" in text
    ship = road(
        modes=("shipping",), source_type="navtex", header={"en": "FURUSUND. LIGHTBUOY UNLIT."}, affected=()
    )
    draft = compose(ship, "end", "sv", URL, NOW)
    assert draft is not None and draft.language == "en"  # no Swedish text: falls back, says so
    assert draft.text.startswith("Cleared: the warning has been lifted.\nIt was: Furusund. Lightbuoy unlit")
    cap = road(source_type="cap", header={"sv": "VMA: brand i Värtahamnen"})
    text = compose(cap, "end", "sv", URL, NOW).text  # type: ignore[union-attr]
    assert text.startswith("Klart: varningen") and "är upphävd." in text and "Gällde: VMA: brand" in text
    assert compose(road(), "end", "en", URL, NOW, strict=True) is None  # no English header


def test_title_adds_location_only_when_it_says_more() -> None:
    d = road(header={"sv": "E4 norrgående avstängd"}, location_text={"sv": "E4 norrgående vid Hallunda"})
    assert compose(d, "new", "sv", URL, NOW).text.startswith(
        "E4 norrgående avstängd – E4 norrgående vid Hallunda\n"
    )  # type: ignore[union-attr]
    same = road(location_text={"sv": "E4/E20 Essingeleden norrgående"})
    assert compose(same, "new", "sv", URL, NOW).text.startswith(  # type: ignore[union-attr]
        "Olycka. E4/E20 Essingeleden norrgående helt avstängd\n"
    )


def test_digest_text() -> None:
    assert compose_digest(14, 0, "sv", URL).text == f"14 fler störningar: {URL}/"
    assert compose_digest(1, 2, "sv", URL).text == f"1 störning till och 2 uppdateringar: {URL}/"
    assert compose_digest(3, 0, "en", URL + "/").text == f"3 more disruptions: {URL}/"


def test_all_clear_past_tense_sv_en() -> None:
    metro = road(
        modes=("metro",),
        cause="TECHNICAL_PROBLEM",
        header={
            "sv": "Röda linjen 14: inga tåg mellan Slussen och T-Centralen",
            "en": "Red line 14: no trains",
        },
        affected=(Affected("route", "14", "Röda linjen 14"),),
    )
    sv = compose(metro, "end", "sv", URL, NOW).text  # type: ignore[union-attr]
    assert sv.startswith("Klart: det tekniska felet på röda linjen 14 är över, tågen går igen.\n"), sv
    assert "Gällde: Röda linjen 14: inga tåg" in sv  # what cleared, never as if it still held
    en = compose(metro, "end", "en", URL, NOW, strict=True).text  # type: ignore[union-attr]
    assert en.startswith(
        "Cleared: the technical fault on Röda linjen 14 is over, trains are running again."
    ), en
    assert "It was: Red line 14: no trains" in en


def test_digest_lists_headlines_within_limits() -> None:
    items = [(f"Olycka på väg {i} med lång text om köer och omledning", f"{URL}/d/x:{i}") for i in range(30)]
    sv = compose_digest(30, 0, "sv", URL, items).text
    assert sv.startswith("Fler störningar:\n• Olycka på väg 0")
    shown = sv.count("• ")
    assert 5 <= shown < 30 and sv.endswith(f"… och {30 - shown} till: {URL}/")
    assert len(sv) <= MAX_CHARS  # plain characters: the links are the content here
    en = compose_digest(30, 0, "en", URL, items, BLUESKY).text
    assert en.startswith("More disruptions:\n•") and en.endswith(f"more: {URL}/")
    # Bluesky shows links shortened (the facet holds the URL): the record's text within 300.
    record = rich_text(en)[0]
    assert grapheme_length(record) <= 300 and bluesky_length(en) == grapheme_length(record)
    assert 2 <= en.count("• ") < shown and "trafik.example.se/d/x:0" in record
    two = compose_digest(2, 0, "en", URL, items[:2]).text
    assert two.count("• ") == 2 and "more" not in two


def test_bluesky_counts_graphemes_and_sentence_case() -> None:
    flag = "🇸🇪"  # two code points, one grapheme
    assert grapheme_length(flag * 3) == 3 and len(flag * 3) == 6
    long = road(description={"sv": ("Köer " + flag + " ") * 200})
    draft = compose(long, "new", "sv", URL, NOW, limit=BLUESKY)
    assert draft is not None
    shown = rich_text(draft.text)[0]  # as posted: links displayed shortened, the facet has the URL
    assert grapheme_length(shown) <= 300 < len(shown.encode()) and "https://" in draft.text
    masto = compose(long, "new", "sv", URL, NOW)
    assert masto is not None and mastodon_length(masto.text) <= MAX_CHARS
    ship = road(
        modes=("shipping",),
        source_type="navtex",
        header={"en": "SANDHAMNSLEDEN FAIRWAY CLOSED FOR SHIPPING DURING SAILING REGATTA"},
        description={
            "en": "FAIRWAY CLOSED IN AREA BOUNDED BY 59-17.4N 018-53.0E 59-17.4N 018-56.8E. "
            "CONTACT VTS ON VHF CH 12."
        },
        geometry={"type": "Point", "coordinates": [18.91, 59.29]},
        affected=(),
    )
    text = compose(ship, "new", "en", URL, NOW).text  # type: ignore[union-attr]
    assert text.startswith("Sandhamnsleden fairway closed for shipping during sailing regatta"), text
    assert "59-17.4N" not in text and "in the area shown on the map" in text
    assert "VTS on VHF ch 12" in text and "openstreetmap.org/?mlat=59.2900&mlon=18.9100" in text


def test_navtex_names_in_quotes_and_packed_positions() -> None:
    from travelinfo.bot.wording import sentence_case, without_coordinates

    text = "VAXHOLM. CABLE LAYING BY CS 'SIRIUS' ALONG LINE JOINING 5924.3N 01820.9E AND 5924.0N 01822.4E."
    cased = sentence_case(text)
    assert cased.startswith("Vaxholm. Cable laying by cs 'SIRIUS' along line joining")
    assert sentence_case("VESSEL'S CREW DON'T LEAVE PORT") == "Vessel's crew don't leave port"
    out, moved = without_coordinates(cased, "en")
    assert moved and out.endswith("along line joining (see the map).") and "5924" not in out
    lead, _ = without_coordinates("IN POSITION 59-17.4N 018-53.0E. Vessels to keep clear.", "en")
    assert lead == "In the area shown on the map. Vessels to keep clear."
    sv, _ = without_coordinates("Fartyg. IN POS 59-17.4N 018-53.0E.", "sv")
    assert sv == "Fartyg. I området på kartan."
