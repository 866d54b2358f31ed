"""`travelinfo parse trafikverket|sl-deviations|vma FILE` on every corpus, demo and fixture file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from travelinfo.cli import main

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
CORPUS = ROOT.parent / "shared" / "corpus"
FORMATS = {
    "trafikverket": ["trafikverket-api"],
    "sl-deviations": ["sl-deviations"],
    "vma": ["vma", "krisinformation"],
}


def files(fmt: str) -> list[Path]:
    out: list[Path] = []
    for folder in FORMATS[fmt]:
        for base in (ROOT / "feeds", TESTS / "fixtures", CORPUS):
            d = base / folder
            if d.is_dir():
                out += sorted(p for p in d.iterdir() if p.suffix in (".json", ".xml"))
    return out


# Files that are refused on purpose: invalid JSON as committed, and the error answers.
REFUSED = {"diwise-situation-ferry-response-2022-invalid.json": "malformed or truncated JSON"}
ERRORS = {
    "error-invalid-key.json": "key refused",
    "error-quota.json": "quota exceeded",
    "error-bad-query.xml": "error answer",
    "phille97-error-response-invalid-authentication.xml": "key refused",
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_file_parses_or_fails_in_one_line(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    paths = files(fmt)
    assert len(paths) >= 3
    for path in paths:
        args = ["parse", fmt, str(path)]
        if fmt == "sl-deviations":
            args += ["--gtfs", str(ROOT / "feeds" / "sl-gtfs")]
        code = main(args)
        out, err = capsys.readouterr()
        reason = REFUSED.get(path.name) or ERRORS.get(path.name)
        if reason:
            assert code == 2 and out == "", path
            lines = err.strip().splitlines()
            assert len(lines) == 1 and reason in lines[0] and lines[0].startswith("travelinfo: error: "), err
            continue
        assert code == 0, (path, err)
        items = [json.loads(line) for line in out.splitlines()]
        for d in items:
            assert d["id"].startswith(f"{fmt}:") and d["modes"] and d["header"]
        assert items or "travelinfo: note:" in err, path


def test_sl_deviation_modes_lines_and_stops_resolve_with_gtfs(capsys: pytest.CaptureFixture[str]) -> None:
    demo = sorted((ROOT / "feeds" / "sl-deviations").glob("*.json"))[0]
    assert main(["parse", "sl-deviations", str(demo), "--gtfs", str(ROOT / "feeds" / "sl-gtfs")]) == 0
    items = {d["upstream_id"]: d for d in map(json.loads, capsys.readouterr().out.splitlines())}
    green = items["90231456"]
    assert green["modes"] == ["metro"]
    assert {a["name"] for a in green["affected"] if a["type"] == "route"} == {
        "17 Åkeshov–Skarpnäck",
        "18 Alvik–Farsta strand",
        "19 Hässelby strand–Hagsätra",
    }
    assert {a["name"] for a in green["affected"] if a["type"] == "stop"} == {
        "Slussen",
        "Gamla stan",
        "T-Centralen",
    }
