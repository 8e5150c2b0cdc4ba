"""The docs agree with the code: every problem code, record field and CLI command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _commands():
    import typer.main

    from amge_eval.cli import app

    group = typer.main.get_command(app)
    out = []
    for name, cmd in group.commands.items():
        subs = getattr(cmd, "commands", None)
        if subs:
            out += [(f"{name} {sub}", c) for sub, c in subs.items()]
        else:
            out.append((name, cmd))
    return out


def test_every_problem_code_is_documented():
    from amge_eval.harness.errors import PROBLEM_CODES

    text = (ROOT / "docs" / "formats.md").read_text()
    documented = set(re.findall(r"^\| (E\d{3}) \|", text, flags=re.M))
    assert documented == set(PROBLEM_CODES)


def test_every_record_field_is_documented():
    from amge_eval.harness.records import RESULT_FIELDS

    text = (ROOT / "docs" / "formats.md").read_text()
    documented = re.findall(r"^\| `(\w+)` \| (.+) \|$", text, flags=re.M)
    fields = {name: meaning for name, meaning in documented if name in RESULT_FIELDS}
    assert set(fields) == set(RESULT_FIELDS)


@pytest.mark.parametrize("name, cmd", _commands(), ids=[n for n, _ in _commands()])
def test_every_command_has_help_and_is_in_the_readme(name, cmd):
    assert (cmd.help or "").strip(), f"`amge-eval {name}` has no help text"
    readme = (ROOT / "README.md").read_text()
    assert f"amge-eval {name}" in readme, f"`amge-eval {name}` is missing from README.md"
