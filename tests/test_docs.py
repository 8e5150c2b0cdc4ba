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


def _section(text: str, heading: str) -> str:
    """The lines after ``heading`` up to the next heading."""
    start = text.index(heading + "\n") + len(heading) + 1
    nxt = re.search(r"^#{1,4} ", text[start:], flags=re.M)
    return text[start:start + nxt.start()] if nxt else text[start:]


def _code_rows(section: str) -> dict[str, str]:
    return dict(re.findall(r"^\| (E\d{3}) \| ([^|]+?) \|", section, flags=re.M))


def test_every_error_code_is_documented_once_with_its_title():
    from amge_eval.harness.errors import OTHER_CODES, PROBLEM_CODES

    text = (ROOT / "docs" / "formats.md").read_text()
    assert set(_code_rows(_section(text, "### Problem codes"))) == set(PROBLEM_CODES)
    assert _code_rows(_section(text, "### Every other code")) == OTHER_CODES
    assert not set(PROBLEM_CODES) & set(OTHER_CODES)


def test_every_code_raised_in_the_source_is_in_the_catalogue():
    from amge_eval.harness.errors import OTHER_CODES, PROBLEM_CODES

    raised = {}
    for folder in ("harness", "baselines", "leaderboard", "amge_eval"):
        for path in (ROOT / folder).rglob("*.py"):
            for code in re.findall(r"""["'](E\d{3})["']""", path.read_text()):
                raised.setdefault(code, path.relative_to(ROOT))
    unknown = {c: str(p) for c, p in raised.items()
               if c not in PROBLEM_CODES and c not in OTHER_CODES and c != "E000"}
    assert not unknown, unknown


def _record_parts():
    from amge_eval.harness.records import (
        CompareRecord,
        Environment,
        LabelManifest,
        QuotaLedger,
        RescoreRecord,
        RunRecord,
        ScoreRecord,
        TiesRecord,
    )
    from amge_eval.harness.records.score import (
        CISettings,
        IntervalRecord,
        PredictionsInfo,
        SummaryCell,
    )

    records = {"ScoreRecord": ScoreRecord, "CompareRecord": CompareRecord, "RunRecord": RunRecord,
               "TiesRecord": TiesRecord, "RescoreRecord": RescoreRecord,
               "LabelManifest": LabelManifest, "QuotaLedger": QuotaLedger}
    parts = {"PredictionsInfo": PredictionsInfo, "CISettings": CISettings,
             "SummaryCell": SummaryCell, "Interval": IntervalRecord, "Environment": Environment}
    return records, parts


@pytest.mark.parametrize("name", ["ScoreRecord", "CompareRecord", "RunRecord", "TiesRecord",
                                  "RescoreRecord", "LabelManifest", "QuotaLedger",
                                  "PredictionsInfo", "CISettings", "SummaryCell",
                                  "Interval", "Environment"])
def test_every_record_field_is_documented(name):
    """Each record's table in docs/formats.md lists exactly its fields, nested ones included;
    the shared parts have tables of their own."""
    from amge_eval.harness.records import field_paths

    records, parts = _record_parts()
    cls = {**records, **parts}[name]
    text = (ROOT / "docs" / "formats.md").read_text()
    heading = next(h for h in re.findall(r"^#{3,4} `\w+`.*$", text, flags=re.M)
                   if h.split("`")[1] == name)
    documented = re.findall(r"^\| `([^`]+)` \|", _section(text, heading), flags=re.M)
    assert documented == field_paths(cls, stop=tuple(parts.values()))


@pytest.mark.parametrize("name, cmd", _commands(), ids=[n for n, _ in _commands()])
def test_every_command_has_help_and_is_in_the_readme(name, cmd):
    assert (cmd.help or "").strip(), f"`amge-eval {name}` has no help text"
    readme = (ROOT / "README.md").read_text()
    assert f"amge-eval {name}" in readme, f"`amge-eval {name}` is missing from README.md"
