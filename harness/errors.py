"""Errors a user can cause, with stable codes: the one catalogue of every code the project uses.

Library code raises these; only the CLI turns them into a one-line message and an exit status.
``PROBLEM_CODES`` are the findings of prediction-file validation (E1xx-E4xx, reported all at
once); ``OTHER_CODES`` everything else (E5xx labels, E6xx scoring options, E7xx media, E8xx
baselines, E9xx leaderboard). docs/formats.md lists every code, and tests check that the
catalogue, the docs and the codes raised anywhere in the source agree.

Exit statuses (docs/formats.md, "Exit statuses"):

- 0: success
- 1: invalid input (a prediction file, label file, config or argument value is wrong)
- 2: command-line usage error (unknown option, missing argument; raised by the CLI parser)
- 3: required data is absent (no labels for the dataset/split, no media)
- 70: internal error (a bug in amge-eval: please report it)
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_MISSING = 3
EXIT_INTERNAL = 70


class AmgeError(Exception):
    """A failure caused by input the user can fix. ``str(err)`` is the full message."""

    exit_code = EXIT_INVALID

    def __init__(self, message: str, code: str = "E000"):
        super().__init__(message)
        self.code = code
        self.message = message


class MissingData(AmgeError):
    """Labels, media or a dataset the command needs are not where it looked."""

    exit_code = EXIT_MISSING


class MissingExtra(AmgeError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it.

    Also an ``ImportError``, so code that guards an optional feature with ``except ImportError``
    keeps working."""


@dataclass(frozen=True)
class Problem:
    """One finding of prediction-file validation."""

    code: str  # stable, e.g. "E302"; see PROBLEM_CODES
    message: str  # what is wrong and what to do
    source: str = ""  # the file (and split) it concerns

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        return f"{self.code} {where}{self.message}"


class ValidationFailed(AmgeError):
    """A prediction file failed validation; ``problems`` lists every finding at once."""

    def __init__(self, problems: list[Problem], source: str = ""):
        self.problems = list(problems)
        head = f"{source}: " if source else ""
        n = len(self.problems)
        lines = [f"{head}{n} problem{'s' if n != 1 else ''}"] + [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines), code=self.problems[0].code if self.problems else "E000")


# Every code validation can emit, with a one-line title. docs/formats.md documents each one and
# a test checks that the two agree.
PROBLEM_CODES: dict[str, str] = {
    # the file itself
    "E100": "file not found",
    "E101": "file unreadable, truncated or not the format its name says",
    "E102": "file is empty",
    "E103": "file (or its decompressed content) exceeds the size cap",
    "E104": "file holds pickled Python objects",
    "E105": "unsupported file type",
    "E106": "CSV file malformed",
    "E107": "too many zip members, or too many files in a directory",
    "E108": "the arrays would need more memory than the cap once converted",
    # keys and arrays
    "E200": "required key missing",
    "E201": "unexpected key",
    "E202": "splits in a multi-split file are inconsistent",
    "E300": "scores have the wrong dtype",
    "E301": "scores have the wrong shape",
    "E302": "scores contain NaN or infinity",
    "E303": "sample_ids have the wrong dtype or shape",
    "E304": "sample_ids and scores disagree in length",
    "E305": "a sample id is empty, too long or has control characters",
    "E306": "dataset or split field malformed",
    "E307": "too many rows in a split",
    "E308": "a CSV line is too long",
    "E310": "muscle names missing",
    "E311": "unknown muscle names",
    "E313": "muscle names malformed or duplicated",
    "E314": "too many muscle names, or a muscle name too long",
    # against the labels
    "E400": "sample ids missing from the file",
    "E401": "sample ids not in the split",
    "E402": "duplicated sample ids",
    "E403": "split mismatch",
    "E404": "dataset mismatch",
    "E405": "empty split",
    "E406": "dataset or split unknown or not given",
}


# Every other code, by layer.
OTHER_CODES: dict[str, str] = {
    # labels and dataset cards
    "E500": "dataset card unreadable or malformed",
    "E501": "label file or label set malformed",
    "E502": "the label store already holds different labels for the split",
    "E503": "labels absent from the store",
    "E504": "official release pickle unusable",
    "E505": "import option invalid (--activity-from, --activity-regex, --rewrite), or paths it cannot read",
    # private labels: the encrypted label store and the public id lists (harness/private.py)
    "E506": "encrypted label store unusable (folder, manifest or a split's file missing or malformed)",
    "E507": "label key missing or malformed (AMGE_EVAL_LABELS_KEY)",
    "E508": "wrong label key (not the key the labels were encrypted with)",
    "E509": "encrypted labels tampered with or corrupt",
    "E510": "decrypted labels differ from the public manifest or id list",
    "E511": "decryption output unusable (--out inside a git work tree, not empty, a file)",
    "E512": "encryption refused (different labels or another key already there; pass --replace)",
    "E513": "public id list absent or malformed (--ids-dir)",
    "E514": "imported activities disagree with the dataset card's count (try another --activity-from; --allow-activity-mismatch)",
    "E515": "video folder layout or muscle table unusable (labels from-folder)",
    # scoring options and outputs
    "E600": "interval or seed settings invalid (--ci, --resamples, --level, --seed)",
    "E601": "output path unusable (cannot create or write the file or folder)",
    # media: skeletons, videos, AlphaPose, the embedded benchmark
    "E700": "unknown skeleton layout",
    "E701": "no skeleton for a sample",
    "E702": "skeleton file unreadable",
    "E710": "video undecodable",
    "E711": "video missing",
    "E712": "no optical flow for a sample (run `amge-eval data flow`)",
    "E713": "optical flow file unreadable or malformed",
    "E714": "skeleton or flow extraction settings invalid",
    "E715": "no videos found, or two videos with one sample id",
    "E716": "flow files of other settings exist (pass --replace)",
    "E720": "AlphaPose file unreadable or not AlphaPose JSON",
    "E721": "AlphaPose file or option invalid",
    "E722": "AlphaPose folder or file missing",
    "E723": "frame rate or image size invalid",
    "E724": "skeleton file exists (pass --replace)",
    "E725": "sample-to-file mapping unreadable",
    "E730": "loader settings invalid",
    "E731": "normalisation needs the image size",
    "E740": "embedded benchmark settings invalid",
    "E741": "a different embedded benchmark is already there (pass --overwrite)",
    "E742": "embedded benchmark not generated",
    # baselines
    "E800": "unknown baseline",
    "E801": "config file missing, unreadable or not TOML",
    "E802": "--set override malformed",
    "E803": "config table invalid (unknown key, wrong type or value)",
    "E804": "unknown config preset, or none for this baseline (--preset)",
    "E810": "checkpoint belongs to another run",
    "E811": "weights file unusable",
    "E812": "output folder unusable (--out)",
    "E813": "embedded benchmark missing, made by another generator version, or without the media a baseline needs",
    "E814": "device unavailable (--device)",
    "E815": "no loader for the baseline's inputs",
    "E816": "samples unreadable during prediction (pass --skip-bad)",
    "E817": "run folder or checkpoint unusable for prediction (amge-eval predict)",
    "E818": "--deterministic cannot pin this machine (not x86-64 with AVX2, or torch loaded)",
    "E819": "bench option invalid (--video-size, --steps, --batch-size, a non-video baseline)",
    "E820": "model setting out of range",
    "E821": "model input of the wrong shape",
    "E822": "sender file missing, unreadable or of another architecture (--sender)",
    "E823": "--stage or --sender does not fit the baseline or its config",
    "E830": "optional dependency not installed (the message names the extra)",
    # containers and tables (baselines/launch.py, amge_eval/tables/)
    "E860": "container engine unusable (--container: not installed, or an option it refuses)",
    "E861": "container image not found or unusable (--image)",
    "E862": "the run inside the container failed",
    "E863": "table file unreadable or not TOML",
    "E864": "table file invalid (unknown key, wrong type, empty or repeated values)",
    "E865": "table output folder unusable or in use by another run-table",
    "E866": "cells of the table failed (listed by `amge-eval run-table TABLE --status`)",
    "E867": "table backend unavailable (submitit not installed, Slurm not reachable)",
    # leaderboard
    "E900": "entry file unreadable or not TOML",
    "E901": "unknown key in an entry file",
    "E902": "required key missing",
    "E903": "value of the wrong type or out of range",
    "E904": "status does not fit the entry's content",
    "E905": "unsupported entry_version",
    "E906": "entry name unusable",
    "E907": "entry already exists",
    "E908": "link is not an http(s) URL",
    "E909": "stored result record or prediction files inconsistent",
    "E910": "run record invalid",
    "E911": "dataset name invalid or not the entry's folder",
    "E912": "submission input unusable",
    "E913": "output folder is not a leaderboard site",
    "E914": "submission lacks the test splits",
    "E915": "the store holds an interrupted write (run `amge-eval leaderboard doctor`)",
    "E916": "entry names no team (its dataset has a submission quota)",
    "E917": "team over its quota of test-split scorings",
    "E918": "quota file or quota ledger invalid",
    "E919": "pending submission unusable",
}

