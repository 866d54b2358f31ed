"""Every shell example of README.md and docs/*.md runs against a running demo and prints the
fields it shows (Must show 4, second half). The convention is in tests/examples.py and in
README's "Examples that run"."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from examples import Example, examples, problems
from procutil import free_port
from waiting import wait_until_sync

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CORPUS = ROOT.parent / "shared" / "corpus"
BIN = Path(sys.executable).parent  # the project's .venv/bin, where `travelinfo` is installed
PER_COMMAND = 60
STORY = 60  # seconds: one loop of the demo's replayed story (the longest interval x its files)


class Demo:
    """`travelinfo run` with the demo configuration on a free port and a store of its own."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PORT": str(self.port),
            "TRAVELINFO_STORE": f"sqlite:///{tmp / 'demo.db'}",
        }
        self.env.pop("TRAVELINFO_CONFIG", None)
        self.log = (tmp / "demo.log").open("w")
        self.proc = subprocess.Popen(
            [str(BIN / "travelinfo"), "run"], cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log
        )

    def ready(self) -> bool:
        assert self.proc.poll() is None, "the demo exited"
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self.log.close()


def test_the_output_check_finds_drift() -> None:
    """What counts as "the fields shown" (the examples test is only as good as this)."""
    assert problems(('{"id": "a", "count": 1, ...}',), '{"id":"x","count":2,"more":3}') == []
    assert problems(('{"id": "a", "next_cursor": null}',), '{"id":"x"}') == ["no JSON key 'next_cursor'"]
    assert problems(("<feed><entry>...",), "<feed><id/></feed>") == ["no element <entry>"]
    shown = ("HTTP/1.1 304 Not Modified", 'ETag: "3f0c"', "Age: 3")
    assert problems(shown, 'HTTP/1.1 304 Not Modified\nAge: 1\nETag: "99"') == []
    assert (
        problems(shown, "HTTP/1.1 200 OK\nETag: x\nAge: 1")[0] == "no line like 'HTTP/1.1 304 Not Modified'"
    )
    assert problems(
        ("HTTP/1.1 201 Created", '{"id": "a", "secret": "..."}'), 'HTTP/1.1 201 Created\n\n{"id":"b"}'
    ) == ["no JSON key 'secret'"]
    note = "travelinfo: error: var/t.xml: malformed or truncated XML: ..."
    actual = "travelinfo: error: var/t.xml: malformed or truncated XML: line 3\n2"
    assert problems((note, "2"), actual) == []
    assert problems((note, "2"), actual.replace("\n2", "\n0")) == ["no line like '2'"]
    assert (
        problems(("--- post 1 (sv, public)", "http://h/d/..."), "x\n--- post 1 (sv, public)\nhttp://h/d/a:1")
        == []
    )
    # Order matters outside headers; a time or an id may differ, the words around it may not.
    assert problems(("b", "a"), "a\nb") == ["no line like 'a'"]
    assert problems(("Gäller från 25 nov 06:30",), "Gäller från 2 dec 01:42") == [
        "no line like 'Gäller från 25 nov 06:30'"
    ]
    assert problems(("updated 2026-11-25T07:42:00Z",), "updated 2026-12-02T00:10:00Z") == []


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    d = Demo(tmp_path_factory.mktemp("demo"))
    try:
        wait_until_sync(d.ready, timeout=90, what="the demo to be ready", interval=0.3)
        yield d
    finally:
        d.stop()


def localised(text: str, port: int) -> str:
    return text.replace("127.0.0.1:8080", f"127.0.0.1:{port}").replace("localhost:8080", f"127.0.0.1:{port}")


def run(example: Example, demo: Demo, state: Path) -> tuple[int | None, str]:
    """The command in bash from the repository root, with the file's shell state before and
    after; (exit status or None when it ran past the limit, stdout and stderr interleaved)."""
    script = "\n".join(
        (
            "set -a",
            f'[ -f "{state}" ] && . "{state}"',
            f'cd "{ROOT}"',
            localised(example.command, demo.port),
            "__rc=$?",
            f"export -p | grep -v '^declare -[a-zA-Z]*r' > \"{state}\"",
            "exit $__rc",
        )
    )
    proc = subprocess.Popen(
        ["bash", "-c", script],
        env=demo.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # as a terminal shows them
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # its own process group: a timeout ends the whole pipeline
    )
    try:
        out, _ = proc.communicate(timeout=PER_COMMAND)
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return None, out


def reads_only(example: Example) -> bool:
    """A command that only reads (safe to repeat): no request body, no method, no assignment."""
    words = example.command.split()
    return (
        not ({"-X", "-d", "--data", "POST", "PATCH", "DELETE"} & set(words)) and "=$(" not in example.command
    )


def test_the_convention_finds_examples() -> None:
    """The parser sees the examples (a broken parser must not pass by running nothing)."""
    found = [e for path in DOCS for e in examples(path)]
    assert len(found) >= 15
    assert any("travelinfo parse" in e.command for e in found)
    assert all(not e.command.startswith("$ ") for e in found)


WITH_EXAMPLES = [p for p in DOCS if examples(p)]  # a page without ```sh blocks has nothing to run


@pytest.mark.slow
@pytest.mark.parametrize("path", WITH_EXAMPLES, ids=[p.name for p in WITH_EXAMPLES])
def test_shell_examples_run_against_the_demo(path: Path, demo: Demo, tmp_path: Path) -> None:
    found = examples(path)
    state = tmp_path / "state.sh"
    failures = []
    ran = 0
    for example in found:
        if "../shared/" in example.command and not CORPUS.is_dir():
            continue  # the corpus is not part of the repository; the other examples still run
        expected = tuple(localised(line, demo.port) for line in example.expected)
        code, output = run(example, demo, state)
        missing = problems(expected, output)
        deadline = time.monotonic() + STORY
        while missing and reads_only(example) and time.monotonic() < deadline:
            # The demo tells a story in a loop (an item is there, then resolved): a read whose
            # output lacks a field shown is retried through one loop before it counts as drift.
            time.sleep(2)  # about time: the next demo poll
            code, output = run(example, demo, state)
            missing = problems(expected, output)
        ran += 1
        if code is None:
            missing.append(f"still running after {PER_COMMAND} s (give it a limit, or show it as ```text)")
        elif code != 0 and not any(line.strip() for line in expected):
            missing.append(f"exit status {code}")
        if "Traceback (most recent call last)" in output:
            missing.append("a Python traceback")
        if missing:
            failures.append(
                f"{example.where()}: {example.command[:100]!r}: {'; '.join(missing)}\n{output[:800]}"
            )
    assert ran, f"{path.name}: every example was skipped"
    assert not failures, "\n\n".join(failures)
