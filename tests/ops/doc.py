"""The command blocks of docs/deployment.md, read the way the tests run them.

A block is a fenced block whose info string names it: ```` ```sh test=backup-sqlite ````.
The tests take the block's text, put this machine's paths, ports and databases in for the
page's examples (each of which must occur, so a changed page fails loudly), and run it.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "deployment.md"

#: Where the page installs the checkout, and the backups.
INSTALL = "/srv/erklaerung"
BACKUPS = "/var/backups/erklaerung"

OPENING = re.compile(r"^```(?P<language>\S*)(?:\s+test=(?P<name>[\w-]+))?\s*$")


def fenced_blocks(text: str | None = None) -> list[tuple[str, str | None, str]]:
    """Return every fenced block of the page: (language, test name or None, text)."""
    lines = (text if text is not None else DOC.read_text(encoding="utf-8")).splitlines()
    found = []
    index = 0
    while index < len(lines):
        opening = OPENING.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = lines.index("```", index + 1)
        body = "\n".join(lines[index + 1 : end]) + "\n"
        found.append((opening["language"], opening["name"], body))
        index = end + 1
    return found


def block(name: str) -> str:
    """Return the text of the block ``test=name``."""
    matching = [body for _, found, body in fenced_blocks() if found == name]
    assert len(matching) == 1, f"docs/deployment.md has {len(matching)} blocks test={name}"
    return matching[0]


def substitute(text: str, replacements: dict[str, str]) -> str:
    """Replace each example of the page (in the given order); each must occur."""
    for example, here in replacements.items():
        assert example in text, f"{example!r} no longer occurs in the block:\n{text}"
        text = text.replace(example, here)
    return text


def run_block(
    name: str,
    replacements: dict[str, str],
    env: dict[str, str],
    *,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run the block ``name`` with bash (stopping at the first failing command)."""
    script = substitute(block(name), replacements)
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def environment_file() -> dict[str, str]:
    """Return the settings of the page's environment file (``KEY=VALUE`` lines)."""
    settings = {}
    for line in block("environment").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings[key] = value
    return settings


def unit_setting(key: str) -> str:
    """Return the value of ``key=`` in the page's systemd unit."""
    values = [
        line.partition("=")[2]
        for line in block("systemd-unit").splitlines()
        if line.startswith(f"{key}=")
    ]
    assert len(values) == 1, f"the unit has {len(values)} {key}= lines"
    return values[0]
