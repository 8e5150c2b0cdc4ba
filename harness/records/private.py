"""The public manifest of an encrypted label store (``labels/<dataset>/manifest.json``): what each
encrypted split holds, told without the labels.

Written by ``amge-eval labels encrypt`` and read by ``amge-eval labels decrypt`` and the id checks
(harness/private.py). Everything in it is public: the label fingerprints are those every score
record already publishes, the hashes commit to the committed files, and the key id tells which
key the splits were encrypted with without revealing it.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec

from ..vocab import SPLITS
from .base import Count, Record, Sha256

MANIFEST_SCHEMA_VERSION = "1.0"
CIPHER = "AES-256-GCM"
KeyId = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{16}$")]


class EncryptedSplit(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    file: str  # the ciphertext, relative to the dataset's folder: "<split>.csv.enc"
    ids: str  # the public id list, relative to the dataset's folder: "<split>.ids"
    n_samples: Count  # samples in the split
    label_fingerprint: Sha256  # of the labels inside (docs/formats.md, "Label store")
    ciphertext_sha256: Sha256  # of the .csv.enc file
    ids_sha256: Sha256  # of the .ids file
    encrypted: str  # UTC time the split was encrypted, ISO 8601


class LabelManifest(Record, kw_only=True, forbid_unknown_fields=True):
    KIND: ClassVar[str] = "label-manifest"
    VERSION: ClassVar[str] = MANIFEST_SCHEMA_VERSION
    CODE: ClassVar[str] = "E506"

    schema_version: str = MANIFEST_SCHEMA_VERSION
    kind: Literal["label-manifest"] = "label-manifest"
    dataset: str  # dataset card name
    cipher: Literal["AES-256-GCM"] = CIPHER
    key_id: KeyId  # names the key (harness.private.key_id); never the key itself
    splits: dict[Literal[SPLITS], EncryptedSplit]  # split -> its encrypted file

    def check(self) -> list[tuple[str, str]]:
        out = []
        for split, s in self.splits.items():
            if s.file != f"{split}.csv.enc":
                out.append((f"splits.{split}.file", f"expected {split}.csv.enc, got {s.file!r}"))
            if s.ids != f"{split}.ids":
                out.append((f"splits.{split}.ids", f"expected {split}.ids, got {s.ids!r}"))
        return out
