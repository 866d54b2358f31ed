"""The tree keeps the architecture: import directions, the documented layout, module sizes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "travelinfo"
DOC = ROOT / "docs" / "architecture.md"

OUTPUTS = (
    "web",
    "feeds",
    "gtfsrt",
    "api",
    "push",
    "webhooks",
    "webpush",
    "bot",
    "notices",
    "operator",
    "standards",
)
WIRING = ("travelinfo.cli", "travelinfo.app")
# What a parser may import besides the standard library and third-party packages: the model,
# its vocabulary and geometry helpers, each other, and the GTFS reference data they are handed.
PARSER_ALLOWED = (
    "travelinfo.model",
    "travelinfo.vocab",
    "travelinfo.geo",
    "travelinfo.geojson_check",
    "travelinfo.plaintext",
    "travelinfo.ingest.parsers",
    "travelinfo.ingest.gtfs_static",
)


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every travelinfo module a file imports, at any depth (lazy imports count too)."""
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return {name for name in found if name == "travelinfo" or name.startswith("travelinfo.")}


def _modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def _is_module(name: str) -> bool:
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize("package", OUTPUTS)
def test_outputs_import_no_wiring_and_no_ingest(package: str) -> None:
    bad = []
    for path in (PKG / package).rglob("*.py"):
        for name in _imports(path):
            if not _is_module(name):
                continue
            if any(_under(name, w) for w in WIRING) or _under(name, "travelinfo.ingest"):
                bad.append(f"{_module_name(path)} imports {name}")
    assert not bad, "outputs must not reach back into wiring or ingest:\n" + "\n".join(sorted(bad))


def test_parsers_import_only_the_model_and_their_helpers() -> None:
    bad = []
    for path in (PKG / "ingest" / "parsers").rglob("*.py"):
        for name in _imports(path):
            if _is_module(name) and not any(_under(name, a) for a in PARSER_ALLOWED):
                bad.append(f"{_module_name(path)} imports {name}")
    assert not bad, "parsers are pure:\n" + "\n".join(sorted(bad))


def test_store_imports_no_output_and_no_ingest() -> None:
    bad = []
    for path in (PKG / "store").rglob("*.py"):
        for name in _imports(path):
            if not _is_module(name):
                continue
            if any(_under(name, f"travelinfo.{p}") for p in OUTPUTS) or _under(name, "travelinfo.ingest"):
                bad.append(f"{_module_name(path)} imports {name}")
            if any(_under(name, w) for w in WIRING):
                bad.append(f"{_module_name(path)} imports {name}")
    assert not bad, "the store is below every output:\n" + "\n".join(sorted(bad))


def _documented() -> set[str]:
    """Packages and top-level modules named in the layout table of docs/architecture.md."""
    text = DOC.read_text()
    return set(re.findall(r"^\| `travelinfo/([\w/]+?)(?:\.py)?/?` \|", text, flags=re.M))


def _tree() -> set[str]:
    names = set()
    for p in PKG.iterdir():
        if p.name.startswith(("_", ".")) or p.name in ("static", "py.typed"):
            continue
        if p.is_dir() and (p / "__init__.py").is_file():
            names.add(p.name)
            names.update(
                f"{p.name}/{q.name}" for q in p.iterdir() if q.is_dir() and (q / "__init__.py").is_file()
            )
        elif p.suffix == ".py":
            names.add(p.stem)
    return names


def test_architecture_doc_names_every_package_and_module() -> None:
    documented, tree = _documented(), _tree()
    assert documented, "docs/architecture.md has no layout table"
    assert not tree - documented, f"in the tree but not in docs/architecture.md: {sorted(tree - documented)}"
    assert not documented - tree, f"in docs/architecture.md but not in the tree: {sorted(documented - tree)}"


def test_few_modules_at_the_top() -> None:
    top = [p.stem for p in PKG.glob("*.py") if p.stem != "__init__"]
    assert len(top) <= 11, f"{len(top)} modules at the top of travelinfo/: {sorted(top)}"


def test_no_module_over_400_lines() -> None:
    long = [f"{_module_name(p)}: {n}" for p in _modules() if (n := len(p.read_text().splitlines())) > 400]
    assert not long, "modules over 400 lines: " + ", ".join(long)


def test_public_transport_is_one_list() -> None:
    """Which modes are public transport is vocab.PT_MODES: four outputs once spelled it out
    each, and drifted (the pages counted `unknown` out of public transport, GTFS-RT and SIRI in)."""
    again = [
        _module_name(p)
        for p in _modules()
        if p.name != "vocab.py" and re.search(r"^PT_MODES\b.*=", p.read_text(), re.M)
    ]
    assert not again, "PT_MODES defined outside travelinfo/vocab.py: " + ", ".join(again)
