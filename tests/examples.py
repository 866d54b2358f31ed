"""The shell examples of README.md and docs/*.md, read the way the test runs them.

The convention (README "Contributing: examples that run"):

- A fenced ```sh block is run by `tests/test_examples.py`; any other fence (```text,
  ```console, ```toml, ...) is only shown. Use ```text for commands that run forever, need a
  secret or another host, or need a situation the demo does not have.
- In a ```sh block a line starting with `$ ` is a command (continued on the next lines while
  it ends in `\\` or a quote is open); the lines after it, up to the next `$ `, are what it
  prints (stdout and stderr). A ```sh block without any `$ ` line is a list of commands whose
  output is not shown: each must exit 0.
- Output is checked for the fields shown, not byte for byte: a JSON output (starting with `{`
  or `[`) must carry every key shown; an XML output (starting with `<`) every element shown;
  other lines must appear in order, where `...` stands for anything and a word with digits
  (a time, an id, a count) for any such word; a header line `Name: value` after an
  `HTTP/1.1 NNN` line needs only its name, and a JSON body after the headers its keys. A
  command shown with no output must exit 0; one that shows output may fail (`; echo $?`).
- Each command must finish within a minute: give a stream a limit (`curl --max-time 3`).
- Commands run from the repository root in `bash`, one shell state per file (variables set by
  one command, e.g. `TOKEN=$(travelinfo keys create ...)`, reach the next), with `travelinfo`
  on PATH (the project's .venv/bin), against a running demo: `127.0.0.1:8080` in a command or
  its output is rewritten to the demo's port. Files an example writes go under `var/`.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```(\S*)\s*$")


@dataclass(frozen=True)
class Example:
    """One command of a ```sh block and the output the document shows for it."""

    path: Path
    line: int
    command: str
    expected: tuple[str, ...]
    shown: bool  # False: the block has no `$ ` prompts, so no output is shown

    def where(self) -> str:
        return f"{self.path.name}:{self.line}"


def sh_blocks(path: Path) -> list[tuple[int, list[str]]]:
    """(first line number, lines) of every ```sh block in a Markdown file."""
    blocks: list[tuple[int, list[str]]] = []
    inside: str | None = None  # the language of the fence we are in
    lines: list[str] = []
    start = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fence = FENCE.match(line)
        if fence and inside is None:
            inside, lines, start = fence.group(1) or "-", [], number + 1
        elif line.startswith("```") and inside is not None:
            if inside == "sh":
                blocks.append((start, lines))
            inside = None
        elif inside is not None:
            lines.append(line)
    return blocks


def _complete(command: str) -> bool:
    """True when `command` ends no continuation and closes every quote."""
    if command.endswith("\\"):
        return False
    try:
        shlex.split(command, comments=True)
    except ValueError:
        return False
    return True


def _commands(lines: list[str], start: int, prompt: bool) -> list[tuple[int, str, list[str]]]:
    """(line number, command, output lines) from a block's lines."""
    out: list[tuple[int, str, list[str]]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if prompt and not line.startswith("$ "):
            if out:
                out[-1][2].append(line)
            i += 1
            continue
        if not prompt and (not line.strip() or line.lstrip().startswith("#")):
            i += 1
            continue
        number = start + i
        command = line[2:] if prompt else line
        while not _complete(command) and i + 1 < len(lines):
            i += 1
            command += "\n" + lines[i]
        out.append((number, command, []))
        i += 1
    return out


def examples(path: Path) -> list[Example]:
    """Every command of the ```sh blocks of `path`, in document order."""
    found = []
    for start, lines in sh_blocks(path):
        prompt = any(line.startswith("$ ") for line in lines)
        for number, command, output in _commands(lines, start, prompt):
            found.append(Example(path, number, command, tuple(output), prompt))
    return found


# -- what "the fields shown" means ---------------------------------------------------------------

_JSON_KEY = re.compile(r'"([A-Za-z_][\w-]*)"\s*:')
_XML_TAG = re.compile(r"<([A-Za-z][\w:.-]*)")
_HEADER = re.compile(r"^([A-Za-z][\w-]*): ")
_STATUS = re.compile(r"^HTTP/[\d.]+ (\d{3})\b")
_TOKEN = re.compile(r"\.\.\.|\w*\d\w*")


def line_pattern(line: str) -> re.Pattern[str]:
    """A shown output line as a pattern: `...` any text, a word with digits (a time, an id, a
    count) any such word; a line that is only a number (an exit status) stays literal."""
    if line.strip().isdigit():
        return re.compile(re.escape(line.strip()))
    parts = []
    pos = 0
    for m in _TOKEN.finditer(line):
        parts.append(re.escape(line[pos : m.start()]))
        parts.append(".*" if m.group(0) == "..." else r"\w+")
        pos = m.end()
    parts.append(re.escape(line[pos:]))
    return re.compile("".join(parts).rstrip())


def _json_keys(shown: list[str], actual: str) -> list[str]:
    keys = dict.fromkeys(_JSON_KEY.findall("\n".join(shown)))
    return [f"no JSON key {k!r}" for k in keys if f'"{k}":' not in actual and f'"{k}": ' not in actual]


def problems(expected: tuple[str, ...], actual: str) -> list[str]:
    """What the actual output lacks of the fields the document shows (empty: it matches)."""
    shown = [line for line in expected if line.strip()]
    if not shown:
        return []
    first = shown[0].lstrip()
    if first.startswith(("{", "[")):
        return _json_keys(shown, actual)
    if first.startswith("<"):
        tags = dict.fromkeys(_XML_TAG.findall("\n".join(shown)))
        return [f"no element <{t}>" for t in tags if f"<{t}" not in actual]
    lines = [line.rstrip() for line in actual.splitlines()]
    missing = []
    at = 0
    response_at: int | None = None  # headers are looked for anywhere after their status line
    for i, want in enumerate(shown):
        status = _STATUS.match(want)
        header = _HEADER.match(want)
        if want.lstrip().startswith("{") and response_at is not None:
            # A JSON body after the headers: the keys it shows, in the rest of the output.
            return missing + _json_keys(shown[i:], "\n".join(lines[response_at:]))
        if status:
            pattern = re.compile(rf"HTTP/[\d.]+ {status.group(1)}\b.*")
        elif response_at is not None and header:
            name = re.compile(rf"(?i){re.escape(header.group(1))}: .*")
            if not any(name.fullmatch(line) for line in lines[response_at:]):
                missing.append(f"no header {header.group(1)}")
            continue
        else:
            pattern = line_pattern(want.rstrip())
        for j in range(at, len(lines)):
            if pattern.fullmatch(lines[j]):
                at = j + 1
                break
        else:
            missing.append(f"no line like {want.strip()!r}")
            continue
        if status:
            response_at = at
        elif not header:
            response_at = None
    return missing
