"""Errors a user can cause, with stable codes, and the problem catalogue of file validation.

Library code raises these; only the CLI turns them into a one-line message and an exit status.
Exit statuses (documented in docs/cli.md):

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
