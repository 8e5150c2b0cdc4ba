"""Private labels in a public repository: the encrypted label store and its public id lists.

Layout (docs/formats.md, "Encrypted label store")::

    labels/<dataset>/manifest.json      public: per split its fingerprint, sizes, hashes, key id
    labels/<dataset>/<split>.csv.enc    the split's label CSV, encrypted (AES-256-GCM)
    labels/<dataset>/<split>.ids        public: the split's sample ids, one a line, sorted

A ``.csv.enc`` file is ``MAGIC`` (12 bytes), a random 96-bit nonce, then the AES-256-GCM
ciphertext with its 128-bit tag of the canonical label CSV (harness.labels.to_csv). The associated
data binds it to its dataset and split, so a ciphertext moved to another split's name fails to
decrypt. The key is 32 random bytes, given base64-encoded in ``$AMGE_EVAL_LABELS_KEY`` (a CI
secret), never on the command line; the manifest names it by ``key_id``, a hash that tells a
wrong key from tampered files without revealing the key.

Decryption checks everything before it writes anything (key id, ciphertext hashes, the GCM tags,
each split's label fingerprint and its public id list), then writes a label store of private
files (0600, folders 0700) into a new or empty folder outside every git work tree. The id lists
need no key: fork pull requests validate predictions against them (``validate --ids-dir``).

Library code: no printing, no exits; every failure is an AmgeError with a code from E506-E513.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .datasets import check_split
from .errors import AmgeError, MissingData, MissingExtra
from .fileio import sha256_file, write_bytes_atomic
from .labels import LabelSet, list_store, parse_csv, read_labels, resolve_labels_dir, to_csv
from .records.private import CIPHER, EncryptedSplit, LabelManifest
from .vocab import EVAL_SPLITS

KEY_ENV = "AMGE_EVAL_LABELS_KEY"
KEY_BYTES = 32
MAGIC = b"amge-enc/v1\n"
NONCE_BYTES = 12
MANIFEST = "manifest.json"
ENC_SUFFIX = ".csv.enc"
IDS_SUFFIX = ".ids"
_KEY_HELP = ("a key is 32 random bytes in base64, e.g. the output of `openssl rand -base64 32` "
             "(docs/leaderboard.md, \"Private labels\")")


# --------------------------------------------------------------------------- the key

def _aesgcm():
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError as exc:
        raise MissingExtra("Encrypting and decrypting labels needs the 'cryptography' package, "
                           "which is not installed; install the private extra: pip install "
                           "'amge-eval[private]'", code="E830") from exc
    return AESGCM


def parse_key(text: str, source: str = KEY_ENV) -> bytes:
    """The 32-byte key from its base64 text (standard or URL-safe alphabet, padding optional)."""
    s = "".join(str(text).split())
    if not s:
        raise AmgeError(f"{source} is empty; {_KEY_HELP}", code="E507")
    alt = b"-_" if ("-" in s or "_" in s) else None
    try:
        raw = base64.b64decode(s + "=" * (-len(s) % 4), altchars=alt, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AmgeError(f"{source} is not base64 text; {_KEY_HELP}", code="E507") from exc
    if len(raw) != KEY_BYTES:
        raise AmgeError(f"{source} decodes to {len(raw)} bytes, not {KEY_BYTES}; {_KEY_HELP}",
                        code="E507")
    return raw


def key_from_env(var: str = KEY_ENV, environ: dict | None = None) -> bytes:
    """The key from an environment variable (the only way a key reaches amge-eval)."""
    env = os.environ if environ is None else environ
    value = env.get(var)
    if value is None or not value.strip():
        raise AmgeError(f"No label key: set the environment variable {var} (in CI, from the "
                        f"repository secret of that name; {_KEY_HELP})", code="E507")
    return parse_key(value, var)


def key_id(key: bytes) -> str:
    """A public name of a key: 16 hex digits of a domain-separated sha256. It identifies the
    key among a few (which one encrypted these labels?) and reveals nothing usable about it."""
    return hashlib.sha256(b"amge-eval label key id/v1\0" + key).hexdigest()[:16]


def _aad(dataset: str, split: str) -> bytes:
    return MAGIC + f"{dataset}\0{split}".encode()


def encrypt_bytes(plain: bytes, key: bytes, dataset: str, split: str) -> bytes:
    """One ``.csv.enc`` file's bytes (a fresh random nonce every call)."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return MAGIC + nonce + _aesgcm()(key).encrypt(nonce, plain, _aad(dataset, split))


def decrypt_bytes(blob: bytes, key: bytes, dataset: str, split: str, source: str) -> bytes:
    """The plaintext of a ``.csv.enc`` file; E509 when it is not one or fails authentication."""
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + NONCE_BYTES + 16:
        raise AmgeError(f"{source} is not an amge-eval encrypted label file (no {MAGIC[:-1]!r} "
                        f"header, or truncated); restore it from git", code="E509")
    nonce = blob[len(MAGIC):len(MAGIC) + NONCE_BYTES]
    body = blob[len(MAGIC) + NONCE_BYTES:]
    aesgcm = _aesgcm()
    from cryptography.exceptions import InvalidTag

    try:
        return aesgcm(key).decrypt(nonce, body, _aad(dataset, split))
    except InvalidTag as exc:
        raise AmgeError(f"{source} failed authentication: the file was altered, truncated or "
                        f"renamed from another split, or the manifest's key id was edited. Restore "
                        f"labels/{dataset}/ from git (`git checkout -- labels/{dataset}`)",
                        code="E509") from exc


# --------------------------------------------------------------------------- the public parts

def manifest_path(encrypted_dir: str | os.PathLike, dataset: str) -> Path:
    return Path(encrypted_dir) / dataset / MANIFEST


def read_manifest(encrypted_dir: str | os.PathLike, dataset: str) -> LabelManifest:
    path = manifest_path(encrypted_dir, dataset)
    if not path.is_file():
        raise AmgeError(f"No manifest at {path}: {dataset} has no encrypted labels in "
                        f"{encrypted_dir}; encrypt them with `amge-eval labels encrypt --dataset "
                        f"{dataset}`", code="E506")
    m = LabelManifest.read(path)
    if m.dataset != dataset:
        raise AmgeError(f"{path} is the manifest of dataset {m.dataset!r}, not {dataset!r}",
                        code="E506")
    return m


def encrypted_datasets(encrypted_dir: str | os.PathLike) -> list[str]:
    """The datasets of an encrypted store (folders with a manifest), sorted."""
    root = Path(encrypted_dir)
    if not root.is_dir():
        raise AmgeError(f"No encrypted label store at {root}; pass --encrypted DIR (the folder "
                        f"that holds <dataset>/manifest.json)", code="E506")
    return sorted(p.parent.name for p in root.glob(f"*/{MANIFEST}"))


def ids_text(ids) -> str:
    """The id list file's text: one id a line, sorted by code point, a final line break."""
    return "".join(f"{i}\n" for i in sorted(ids))


def read_id_list(ids_dir: str | os.PathLike, dataset: str, split: str) -> list[str]:
    """The public sample ids of a split (``<ids_dir>/<dataset>/<split>.ids``). Absent: a
    MissingData (E513); malformed, or not the file the dataset's manifest names: E513."""
    from .predictions import bad_ids

    check_split(split)
    path = Path(ids_dir) / dataset / f"{split}{IDS_SUFFIX}"
    if not path.is_file():
        raise MissingData(f"No public id list for {dataset}/{split} at {path}; the repository "
                          f"has no encrypted labels for it, so CI cannot check or score it. "
                          f"Maintainers add them with `amge-eval labels encrypt`", code="E513")
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AmgeError(f"{path} is unreadable: {exc}", code="E513") from exc
    if (text and not text.endswith("\n")) or "\r" in text:
        raise AmgeError(f"{path}: expected one id a line, each ended by \\n", code="E513")
    ids = text.split("\n")[:-1] if text else []
    bad = bad_ids(_array(ids))
    if bad:
        raise AmgeError(f"{path}: {len(bad)} invalid sample ids; first: {bad[0][:80]!r}",
                        code="E513")
    if ids != sorted(set(ids)):
        raise AmgeError(f"{path}: ids must be unique and sorted (as `labels encrypt` writes "
                        f"them)", code="E513")
    mpath = manifest_path(ids_dir, dataset)
    if mpath.is_file():
        entry = LabelManifest.read(mpath).splits.get(split)
        digest = hashlib.sha256(raw).hexdigest()
        if entry is None or entry.ids_sha256 != digest or entry.n_samples != len(ids):
            raise AmgeError(f"{path} is not the id list {mpath} names (hash or count differ); "
                            f"restore labels/{dataset}/ from git or encrypt again",
                            code="E513")
    return ids


def _array(ids: list[str]):
    import numpy as np

    return np.asarray(ids, dtype=str) if ids else np.zeros(0, dtype=str)


# --------------------------------------------------------------------------- encrypt

@dataclass
class EncryptResult:
    dataset: str
    encrypted_dir: Path
    written: list[str] = field(default_factory=list)  # splits (re-)encrypted
    unchanged: list[str] = field(default_factory=list)  # same labels, same key: left as they were
    key_id: str = ""


def encrypt_labels(dataset: str, labels_dir: str | os.PathLike | None,
                   encrypted_dir: str | os.PathLike, key: bytes,
                   splits: list[str] | None = None, replace: bool = False) -> EncryptResult:
    """Encrypt splits of a plaintext label store into the encrypted store, with their id lists
    and the manifest. ``splits`` defaults to the evaluation splits the store holds.

    Refuses (E512), before writing anything: a split already encrypted with different labels
    unless ``replace``; a key other than the manifest's unless ``replace`` and the call
    re-encrypts every split the manifest lists (key rotation)."""
    root = resolve_labels_dir(labels_dir)
    if splits:
        for s in splits:
            check_split(s)
        wanted = list(dict.fromkeys(splits))
    else:
        have = {s for ds, s, _ in list_store(root) if ds == dataset}
        wanted = [s for s in EVAL_SPLITS if s in have]
        if not wanted:
            raise MissingData(f"The label store {root} has no evaluation split of {dataset!r} to "
                              f"encrypt; pass --labels-dir (the plaintext store) or --split",
                              code="E503")
    label_sets = {s: read_labels(root, dataset, s) for s in wanted}
    enc_dir = Path(encrypted_dir) / dataset
    if Path(encrypted_dir).resolve() == root.resolve() or enc_dir.resolve() == (root / dataset).resolve():
        raise AmgeError("--encrypted and --labels-dir are the same folder; the encrypted store "
                        "must be a folder of its own (the repository's labels/)", code="E512")
    kid = key_id(key)
    old = read_manifest(encrypted_dir, dataset) if manifest_path(encrypted_dir, dataset).is_file() else None
    if old is not None and old.key_id != kid:
        missing = sorted(set(old.splits) - set(wanted))
        if not replace or missing:
            what = (f"pass --replace and re-encrypt every split ({', '.join(sorted(old.splits))})"
                    if missing else "pass --replace to re-encrypt them with the new key")
            raise AmgeError(f"The labels of {dataset} in {enc_dir} were encrypted with another key "
                            f"(id {old.key_id}, this one is {kid}). To rotate the key, decrypt "
                            f"them with the old key and {what}", code="E512")
    result = EncryptResult(dataset, Path(encrypted_dir), key_id=kid)
    todo: dict[str, LabelSet] = {}
    for s, ls in label_sets.items():
        prev = old.splits.get(s) if old else None
        if prev is not None and prev.label_fingerprint != ls.fingerprint and not replace:
            raise AmgeError(f"{enc_dir / prev.file} already holds different labels of {dataset}/"
                            f"{s} (fingerprint {prev.label_fingerprint[:12]}, these are "
                            f"{ls.fingerprint[:12]}); pass --replace to overwrite them",
                            code="E512")
        intact = (prev is not None and (enc_dir / prev.file).is_file()
                  and sha256_file(enc_dir / prev.file) == prev.ciphertext_sha256
                  and (enc_dir / prev.ids).is_file()
                  and sha256_file(enc_dir / prev.ids) == prev.ids_sha256)
        if (prev is not None and intact and prev.label_fingerprint == ls.fingerprint
                and old.key_id == kid):
            result.unchanged.append(s)
        else:
            todo[s] = ls
    entries = dict(old.splits) if old else {}
    if old is not None and old.key_id != kid:
        entries = {}
    now = datetime.now(UTC).isoformat(timespec="seconds")
    blobs = {}
    for s, ls in todo.items():
        blob = encrypt_bytes(to_csv(ls).encode("utf-8"), key, dataset, s)
        ids = ids_text(ls.sample_ids.tolist()).encode("utf-8")
        blobs[s] = (blob, ids)
        entries[s] = EncryptedSplit(file=f"{s}{ENC_SUFFIX}", ids=f"{s}{IDS_SUFFIX}",
                                    n_samples=len(ls), label_fingerprint=ls.fingerprint,
                                    ciphertext_sha256=hashlib.sha256(blob).hexdigest(),
                                    ids_sha256=hashlib.sha256(ids).hexdigest(), encrypted=now)
    if not todo:
        return result
    for s, (blob, ids) in blobs.items():
        write_bytes_atomic(enc_dir / f"{s}{ENC_SUFFIX}", blob)
        write_bytes_atomic(enc_dir / f"{s}{IDS_SUFFIX}", ids)
    order = {s: i for i, s in enumerate(("train", *EVAL_SPLITS))}
    manifest = LabelManifest(dataset=dataset, cipher=CIPHER, key_id=kid,
                             splits=dict(sorted(entries.items(), key=lambda kv: order[kv[0]])))
    manifest.write(manifest_path(encrypted_dir, dataset))
    result.written = list(todo)
    return result


# --------------------------------------------------------------------------- decrypt

@dataclass
class DecryptedSplit:
    dataset: str
    split: str
    n_samples: int
    fingerprint: str


@dataclass
class DecryptResult:
    out_dir: Path
    splits: list[DecryptedSplit]


def _git_work_tree(path: Path) -> Path | None:
    """The git work tree ``path`` lies in (a folder above it holds ``.git``), or None."""
    for p in (path, *path.parents):
        if (p / ".git").exists():
            return p
    return None


def _existing(path: Path) -> Path:
    """``path`` if it exists, else its nearest existing parent (resolved)."""
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p.resolve()


def check_out_dir(out_dir: str | os.PathLike, encrypted_dir: str | os.PathLike) -> Path:
    """Where decrypted labels may go: a new or empty folder, neither inside the encrypted store
    nor inside any git work tree (where `git add` could pick the labels up). E511 otherwise."""
    out = Path(out_dir).expanduser()
    where = _existing(out)
    enc = Path(encrypted_dir).resolve()
    if where == enc or enc in where.parents:
        raise AmgeError(f"--out {out} is inside the encrypted store {encrypted_dir}; decrypted "
                        f"labels never go into the repository. Use a temporary folder (omit "
                        f"--out), or e.g. --out \"$RUNNER_TEMP/amge-labels\" in CI", code="E511")
    tree = _git_work_tree(where)
    if tree is not None:
        raise AmgeError(f"--out {out} is inside the git work tree {tree}, where `git add` could "
                        f"commit the plaintext labels; choose a folder outside it (omit --out for "
                        f"a new temporary folder)", code="E511")
    if out.exists() and not out.is_dir():
        raise AmgeError(f"--out {out} is a file; give a new or empty folder", code="E511")
    if out.is_dir() and any(out.iterdir()):
        raise AmgeError(f"--out {out} is not empty; give a new or empty folder (decrypted labels "
                        f"are never mixed into an existing store)", code="E511")
    return out


def decrypt_labels(encrypted_dir: str | os.PathLike, key: bytes | None,
                   out_dir: str | os.PathLike | None = None,
                   datasets: list[str] | None = None) -> DecryptResult:
    """Decrypt every split of ``datasets`` (default: all of the store), verify each, then write
    them as a label store into ``out_dir`` (default: a new temporary folder). Nothing is written
    unless every split verifies; files are 0600 and folders 0700.

    ``key`` may be None only when the store holds no dataset (then nothing needs it)."""
    enc_root = Path(encrypted_dir)
    have = encrypted_datasets(enc_root)
    if datasets:
        unknown = [d for d in datasets if d not in have]
        if unknown:
            raise AmgeError(f"{enc_root} has no encrypted labels for {', '.join(unknown)} (it has: "
                            f"{', '.join(have) or 'none'})", code="E506")
        chosen = list(dict.fromkeys(datasets))
    else:
        chosen = have
    out = check_out_dir(out_dir, enc_root) if out_dir is not None else None
    plain: list[tuple[LabelSet, bytes]] = []
    if chosen:
        if key is None:
            raise AmgeError(f"No label key: set the environment variable {KEY_ENV}", code="E507")
        kid = key_id(key)
        for ds in chosen:
            plain += _decrypt_dataset(enc_root, ds, key, kid)
    return DecryptResult(_write_store(out, plain), [
        DecryptedSplit(ls.dataset, ls.split, len(ls), ls.fingerprint) for ls, _ in plain])


def _decrypt_dataset(enc_root: Path, dataset: str, key: bytes, kid: str
                     ) -> list[tuple[LabelSet, bytes]]:
    m = read_manifest(enc_root, dataset)
    folder = enc_root / dataset
    if m.key_id != kid:
        raise AmgeError(f"Wrong key for {dataset}: its labels were encrypted with the key of id "
                        f"{m.key_id}, and {KEY_ENV} holds the key of id {kid}. Use the key of the "
                        f"repository secret {KEY_ENV}; after a key rotation, the new one",
                        code="E508")
    out = []
    for split, s in m.splits.items():
        path = folder / s.file
        if not path.is_file():
            raise AmgeError(f"{path} is missing although {folder / MANIFEST} lists it; restore "
                            f"labels/{dataset}/ from git", code="E506")
        blob = path.read_bytes()
        if hashlib.sha256(blob).hexdigest() != s.ciphertext_sha256:
            raise AmgeError(f"{path} is not the file the manifest names (its sha256 differs): "
                            f"it was altered, or the manifest is out of date. Restore labels/"
                            f"{dataset}/ from git", code="E509")
        text = decrypt_bytes(blob, key, dataset, split, str(path))
        try:
            ls = parse_csv(text.decode("utf-8"), dataset, split, str(path))
        except (UnicodeDecodeError, AmgeError) as exc:
            raise AmgeError(f"{path} decrypted to something that is not a label CSV; encrypt "
                            f"the split again", code="E510") from exc
        if ls.fingerprint != s.label_fingerprint or len(ls) != s.n_samples:
            raise AmgeError(f"{path} decrypted to labels of fingerprint {ls.fingerprint[:12]} "
                            f"({len(ls)} samples), but the manifest promises "
                            f"{s.label_fingerprint[:12]} ({s.n_samples}); encrypt the split "
                            f"again with `amge-eval labels encrypt --replace`", code="E510")
        try:
            ids = read_id_list(enc_root, dataset, split)
        except AmgeError as exc:
            raise AmgeError(f"{dataset}/{split}: {exc.message}", code="E510") from exc
        if ids != sorted(ls.sample_ids.tolist()):
            raise AmgeError(f"{folder / s.ids}: the public id list differs from the ids of the "
                            f"encrypted labels; encrypt the split again", code="E510")
        out.append((ls, text))
    return out


def _write_store(out: Path | None, plain: list[tuple[LabelSet, bytes]]) -> Path:
    """Write the decrypted splits with private permissions; on any failure remove what was made."""
    created = out is None or not out.exists()
    if out is None:
        out = Path(tempfile.mkdtemp(prefix="amge-labels-"))  # 0700
        tree = _git_work_tree(out.resolve())
        if tree is not None:
            out.rmdir()
            raise AmgeError(f"The temporary folder {out} is inside the git work tree {tree} "
                            f"($TMPDIR points there); pass --out with a folder outside it",
                            code="E511")
    try:
        out.mkdir(parents=True, exist_ok=True)
        os.chmod(out, 0o700)
        for ls, text in plain:
            d = out / ls.dataset
            d.mkdir(mode=0o700, exist_ok=True)
            os.chmod(d, 0o700)
            fd = os.open(d / f"{ls.split}.csv", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(text)
            os.chmod(d / f"{ls.split}.csv", 0o600)
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        else:
            for child in out.iterdir():
                shutil.rmtree(child, ignore_errors=True)
        raise
    return out
