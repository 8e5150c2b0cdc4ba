"""Private labels: the encrypted label store (round trip, wrong key, tampering, fingerprints,
private output), id-list validation without labels, pending submissions and the per-team quota
of test-split scorings."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amge_eval.harness.errors import AmgeError, MissingData, MissingExtra, ValidationFailed
from amge_eval.harness.labels import make_label_set, read_labels, write_labels
from amge_eval.harness.private import (
    KEY_ENV,
    decrypt_bytes,
    decrypt_labels,
    encrypt_bytes,
    encrypt_labels,
    key_from_env,
    key_id,
    parse_key,
    read_id_list,
)
from amge_eval.harness.records import LabelManifest, QuotaLedger, team_key
from amge_eval.harness.scoring import validate_file

from .conftest import DATASET, EVAL, make_store, tree_digest
from .leaderboard_helpers import RESAMPLES, add_pending, copy_reported, write_pred_dir

pytest.importorskip("cryptography")

SMALL = {"val_seen": (30, 4), "val_unseen": (24, 3), "test_seen": (30, 4),
         "test_unseen": (24, 3)}


def _key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def plain(tmp_path):
    return make_store(tmp_path / "plain", sizes=SMALL)


@pytest.fixture
def enc(tmp_path, plain):
    key = _key()
    encrypt_labels(DATASET, plain.root, tmp_path / "enc", key)
    return tmp_path / "enc", key


def _code(exc_info) -> str:
    return exc_info.value.code


# --------------------------------------------------------------------------- keys

def test_keys_are_read_from_the_environment_only_and_checked():
    raw = _key()
    assert parse_key(base64.b64encode(raw).decode()) == raw
    assert parse_key(base64.urlsafe_b64encode(raw).decode().rstrip("=")) == raw  # URL-safe, unpadded
    assert parse_key(" " + base64.b64encode(raw).decode() + "\n") == raw  # as pasted
    with pytest.raises(AmgeError) as e:
        key_from_env(environ={})
    assert _code(e) == "E507" and KEY_ENV in e.value.message
    for bad in ("", "not base64 !", base64.b64encode(b"short").decode(),
                base64.b64encode(os.urandom(33)).decode()):
        with pytest.raises(AmgeError) as e:
            key_from_env(environ={KEY_ENV: bad})
        assert _code(e) == "E507" and "openssl rand -base64 32" in e.value.message
    assert len(key_id(raw)) == 16 and key_id(raw) != key_id(_key())
    assert key_id(raw) not in base64.b64encode(raw).decode()


# --------------------------------------------------------------------------- round trip

@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=4096), st.sampled_from(EVAL))
def test_bytes_round_trip_and_bound_to_their_split(data, split):
    key = _key()
    blob = encrypt_bytes(data, key, DATASET, split)
    assert decrypt_bytes(blob, key, DATASET, split, "f") == data
    assert encrypt_bytes(data, key, DATASET, split) != blob  # a fresh nonce every time
    other = next(s for s in EVAL if s != split)
    with pytest.raises(AmgeError) as e:
        decrypt_bytes(blob, key, DATASET, other, "f")  # renamed to another split
    assert _code(e) == "E509"


_ID = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-/.", min_size=1, max_size=24)


@st.composite
def _label_sets(draw):
    ids = draw(st.lists(_ID.filter(lambda s: s.strip() == s), min_size=1, max_size=30,
                        unique=True))
    n = len(ids)
    acts = draw(st.lists(st.text(alphabet="abc xyz,\"'", max_size=8), min_size=n, max_size=n))
    bits = draw(st.lists(st.lists(st.integers(0, 1), min_size=20, max_size=20), min_size=n,
                         max_size=n))
    return make_label_set(DATASET, "test_unseen", ids, acts, [f"v/{i}.mp4" for i in range(n)],
                          np.array(bits, dtype=np.uint8))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_label_sets())
def test_encrypt_decrypt_round_trip(ls):
    key = _key()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        write_labels(d / "plain", ls)
        res = encrypt_labels(DATASET, d / "plain", d / "enc", key)
        assert res.written == ["test_unseen"]
        ciphertext = (d / "enc" / DATASET / "test_unseen.csv.enc").read_bytes()
        assert b"sample_id,activity" not in ciphertext and b"v/0.mp4" not in ciphertext
        out = decrypt_labels(d / "enc", key, d / "out").out_dir
        back = read_labels(out, DATASET, "test_unseen")
        assert back.fingerprint == ls.fingerprint
        assert back.sample_ids.tolist() == ls.sample_ids.tolist()
        assert back.activities.tolist() == ls.activities.tolist()
        assert (back.labels == ls.labels).all()
        assert read_id_list(d / "enc", DATASET, "test_unseen") == sorted(ls.sample_ids.tolist())


def test_decrypted_store_is_private_and_verified(tmp_path, plain, enc):
    enc_dir, key = enc
    m = LabelManifest.read(enc_dir / DATASET / "manifest.json")
    assert m.key_id == key_id(key) and list(m.splits) == list(EVAL)
    for s in EVAL:
        assert m.splits[s].label_fingerprint == plain.labels[s].fingerprint
    res = decrypt_labels(enc_dir, key, tmp_path / "out")
    assert {(s.split, s.fingerprint) for s in res.splits} == {
        (s, plain.labels[s].fingerprint) for s in EVAL}
    for p in [res.out_dir, *res.out_dir.rglob("*")]:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), (p, oct(mode))
    default = decrypt_labels(enc_dir, key).out_dir  # a new temporary folder
    try:
        assert default.is_dir() and stat.S_IMODE(default.stat().st_mode) == 0o700
        assert not str(default).startswith(str(tmp_path))
    finally:
        shutil.rmtree(default)


def test_encrypting_again_changes_nothing_and_different_labels_need_replace(tmp_path, plain, enc):
    enc_dir, key = enc
    before = tree_digest(enc_dir)
    res = encrypt_labels(DATASET, plain.root, enc_dir, key)
    assert res.written == [] and res.unchanged == list(EVAL)
    assert tree_digest(enc_dir) == before
    ls = plain.labels["test_seen"]
    flipped = ls.labels.copy()
    flipped[0, 0] ^= 1
    write_labels(plain.root, make_label_set(DATASET, "test_seen", ls.sample_ids, ls.activities,
                                            ls.media, flipped), replace=True)
    with pytest.raises(AmgeError) as e:
        encrypt_labels(DATASET, plain.root, enc_dir, key)
    assert _code(e) == "E512" and "--replace" in e.value.message
    assert tree_digest(enc_dir) == before
    res = encrypt_labels(DATASET, plain.root, enc_dir, key, replace=True)
    assert res.written == ["test_seen"]


def test_key_rotation_re_encrypts_every_split(tmp_path, plain, enc):
    enc_dir, old = enc
    new = _key()
    before = tree_digest(enc_dir)
    for kw in ({}, {"replace": True, "splits": ["test_seen"]}):
        with pytest.raises(AmgeError) as e:
            encrypt_labels(DATASET, plain.root, enc_dir, new, **kw)
        assert _code(e) == "E512" and "another key" in e.value.message
        assert tree_digest(enc_dir) == before
    rotated = decrypt_labels(enc_dir, old, tmp_path / "rotate").out_dir
    res = encrypt_labels(DATASET, rotated, enc_dir, new, replace=True)
    assert sorted(res.written) == sorted(EVAL)
    assert decrypt_labels(enc_dir, new, tmp_path / "after").splits
    with pytest.raises(AmgeError) as e:
        decrypt_labels(enc_dir, old, tmp_path / "stale")
    assert _code(e) == "E508"


# --------------------------------------------------------------------------- refusals

def test_wrong_key_is_named_and_nothing_is_written(tmp_path, enc):
    enc_dir, key = enc
    with pytest.raises(AmgeError) as e:
        decrypt_labels(enc_dir, _key(), tmp_path / "out")
    assert _code(e) == "E508" and "Wrong key" in e.value.message and key_id(key) in e.value.message
    assert not (tmp_path / "out").exists()


def _manifest(enc_dir: Path) -> dict:
    return json.loads((enc_dir / DATASET / "manifest.json").read_text())


def _write_manifest(enc_dir: Path, data: dict) -> None:
    (enc_dir / DATASET / "manifest.json").write_text(json.dumps(data, indent=2))


def test_tampered_ciphertext_is_refused(tmp_path, enc):
    enc_dir, key = enc
    f = enc_dir / DATASET / "test_seen.csv.enc"
    blob = bytearray(f.read_bytes())
    blob[-5] ^= 1
    f.write_bytes(bytes(blob))
    with pytest.raises(AmgeError) as e:  # the manifest's hash catches it
        decrypt_labels(enc_dir, key, tmp_path / "a")
    assert _code(e) == "E509" and "sha256" in e.value.message
    import hashlib

    m = _manifest(enc_dir)  # the attacker updates the manifest too: the GCM tag catches it
    m["splits"]["test_seen"]["ciphertext_sha256"] = hashlib.sha256(bytes(blob)).hexdigest()
    _write_manifest(enc_dir, m)
    with pytest.raises(AmgeError) as e:
        decrypt_labels(enc_dir, key, tmp_path / "b")
    assert _code(e) == "E509" and "failed authentication" in e.value.message
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_ciphertext_moved_to_another_split_is_refused(tmp_path, enc):
    enc_dir, key = enc
    d = enc_dir / DATASET
    shutil.copyfile(d / "test_seen.csv.enc", d / "test_unseen.csv.enc")
    m = _manifest(enc_dir)
    m["splits"]["test_unseen"]["ciphertext_sha256"] = m["splits"]["test_seen"]["ciphertext_sha256"]
    _write_manifest(enc_dir, m)
    with pytest.raises(AmgeError) as e:
        decrypt_labels(enc_dir, key, tmp_path / "out")
    assert _code(e) == "E509"


def test_fingerprint_mismatch_is_refused(tmp_path, enc):
    enc_dir, key = enc
    m = _manifest(enc_dir)
    m["splits"]["val_unseen"]["label_fingerprint"] = "0" * 64
    _write_manifest(enc_dir, m)
    with pytest.raises(AmgeError) as e:
        decrypt_labels(enc_dir, key, tmp_path / "out")
    assert _code(e) == "E510" and "fingerprint" in e.value.message
    assert not (tmp_path / "out").exists()


def test_altered_public_id_list_is_refused(tmp_path, enc):
    enc_dir, key = enc
    f = enc_dir / DATASET / "test_seen.ids"
    ids = f.read_text().splitlines()
    f.write_text("".join(f"{i}\n" for i in ids[1:]))
    with pytest.raises(AmgeError) as e:
        read_id_list(enc_dir, DATASET, "test_seen")
    assert _code(e) == "E513"
    with pytest.raises(AmgeError) as e:
        decrypt_labels(enc_dir, key, tmp_path / "out")
    assert _code(e) == "E510"


@pytest.mark.parametrize("where", ["git", "store", "nonempty", "file"])
def test_decryption_never_writes_into_the_repository(tmp_path, enc, where):
    enc_dir, key = enc
    if where == "git":
        (tmp_path / "repo" / ".git").mkdir(parents=True)
        out = tmp_path / "repo" / "sub" / "labels"
    elif where == "store":
        out = enc_dir / "plain"
    elif where == "nonempty":
        out = tmp_path / "full"
        out.mkdir()
        (out / "x").write_text("keep")
    else:
        out = tmp_path / "afile"
        out.write_text("keep")
    before = tree_digest(tmp_path)
    with pytest.raises(AmgeError) as e:
        decrypt_labels(enc_dir, key, out)
    assert _code(e) == "E511"
    assert tree_digest(tmp_path) == before


def test_missing_store_and_missing_dataset(tmp_path, enc):
    enc_dir, key = enc
    with pytest.raises(AmgeError) as e:
        decrypt_labels(tmp_path / "nowhere", key, tmp_path / "out")
    assert _code(e) == "E506"
    with pytest.raises(AmgeError) as e:
        decrypt_labels(enc_dir, key, tmp_path / "out", datasets=["muscle-ucf90"])
    assert _code(e) == "E506"
    (tmp_path / "empty").mkdir()
    res = decrypt_labels(tmp_path / "empty", None, tmp_path / "out")  # nothing to do: no key needed
    assert res.splits == [] and res.out_dir.is_dir()


def test_without_cryptography_the_extra_is_named(monkeypatch, enc, tmp_path):
    enc_dir, key = enc
    for name in ("cryptography", "cryptography.hazmat.primitives.ciphers.aead"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MissingExtra) as e:
        decrypt_labels(enc_dir, key, tmp_path / "out")
    assert _code(e) == "E830" and "amge-eval[private]" in e.value.message
    assert not (tmp_path / "out").exists()
    assert read_id_list(enc_dir, DATASET, "test_seen")  # the public parts need no extra


# --------------------------------------------------------------------------- id lists

def _codes(fn) -> list[str]:
    try:
        fn()
    except ValidationFailed as exc:
        return sorted(p.code for p in exc.problems)
    return []


def test_ids_only_validation_gives_the_codes_of_label_validation(tmp_path, plain, enc):
    enc_dir, _ = enc
    ls = plain.labels["test_seen"]
    ids = ls.sample_ids.tolist()
    from amge_eval.harness.predictions import write_predictions

    cases = {"ok": ids, "missing": ids[3:], "extra": ids + ["nobody/clip"],
             "both": ids[1:] + ["nobody/clip"], "empty": []}
    for name, rows in cases.items():
        f = tmp_path / f"{name}.npz"
        write_predictions(f, rows, np.zeros((len(rows), 20), np.float32), DATASET, "test_seen")
        by_labels = _codes(lambda f=f: validate_file(f, labels_dir=plain.root))
        by_ids = _codes(lambda f=f: validate_file(f, ids_dir=enc_dir, labels_dir=tmp_path / "x"))
        assert by_ids == by_labels, name
    assert _codes(lambda: validate_file(tmp_path / "missing.npz", ids_dir=enc_dir)) == ["E400"]
    assert _codes(lambda: validate_file(tmp_path / "extra.npz", ids_dir=enc_dir)) == ["E401"]
    assert _codes(lambda: validate_file(tmp_path / "both.npz", ids_dir=enc_dir)) == ["E400", "E401"]
    rep = validate_file(tmp_path / "ok.npz", ids_dir=enc_dir)
    assert rep.checked == ["test_seen"]
    # no id list for the split: file checks only, or exit 3 when required
    rep = validate_file(tmp_path / "ok.npz", ids_dir=tmp_path / "none")
    assert rep.without_labels == ["test_seen"]
    with pytest.raises(MissingData) as e:
        validate_file(tmp_path / "ok.npz", ids_dir=tmp_path / "none", require_labels=True)
    assert _code(e) == "E513"


def test_validate_cli_with_ids_dir(cli, tmp_path, plain, enc):
    enc_dir, _ = enc
    preds = write_pred_dir(tmp_path / "preds", plain, 0.5)
    code, out, err = cli("validate", preds, "--ids-dir", enc_dir)
    assert code == 0, err
    assert "public id lists of: test_seen, test_unseen, val_seen, val_unseen" in " ".join(out.split())
    from amge_eval.harness.predictions import write_predictions

    ids = plain.ids("val_unseen")
    write_predictions(tmp_path / "bad.npz", ids[2:] + ["x/y"], np.zeros((len(ids) - 1, 20)),
                      DATASET, "val_unseen")
    code, out, err = cli("validate", tmp_path / "bad.npz", "--ids-dir", enc_dir)
    assert code == 1 and "E400" in err and "E401" in err


# --------------------------------------------------------------------------- CLI

def test_labels_encrypt_and_decrypt_cli(cli, tmp_path, plain, monkeypatch):
    key = base64.b64encode(_key()).decode()
    monkeypatch.setenv(KEY_ENV, key)
    code, out, err = cli("labels", "encrypt", "-d", DATASET, "--labels-dir", plain.root,
                         "--encrypted", tmp_path / "enc")
    assert code == 0, err
    assert key not in out + err
    code, out, err = cli("labels", "decrypt", "--encrypted", tmp_path / "enc", "--out",
                         tmp_path / "out")
    assert code == 0, err
    assert "every fingerprint matches" in out
    text = (tmp_path / "out" / DATASET / "test_seen.csv").read_text()
    for sid in plain.ids("test_seen"):
        assert sid in text and sid not in out  # the labels are in the store, never printed
    monkeypatch.setenv(KEY_ENV, base64.b64encode(_key()).decode())
    code, out, err = cli("labels", "decrypt", "--encrypted", tmp_path / "enc", "--out",
                         tmp_path / "out2")
    assert code == 1 and "(E508)" in err and not (tmp_path / "out2").exists()
    monkeypatch.delenv(KEY_ENV)
    code, out, err = cli("labels", "decrypt", "--encrypted", tmp_path / "enc", "--out",
                         tmp_path / "out3")
    assert code == 1 and "(E507)" in err


def test_dataset_cards_say_whose_labels_are_private(tmp_path):
    from amge_eval.harness.datasets import _card_from_file, builtin_cards

    cards = builtin_cards()
    assert cards["synth"].labels == "public"
    assert {c.labels for n, c in cards.items() if n != "synth"} == {"private"}
    bad = tmp_path / "card.toml"
    bad.write_text('name = "x"\nactivities = 3\nlabels = "secret"\n')
    with pytest.raises(AmgeError) as e:
        _card_from_file(bad)
    assert _code(e) == "E500" and "labels" in e.value.message


# --------------------------------------------------------------------------- pending and quota

class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    def __call__(self):
        return self.now


def _policy(clock, scorings=2, window_days=30):
    from amge_eval.leaderboard.quota import QuotaFile, QuotaPolicy

    return QuotaPolicy(QuotaFile(scorings=scorings, window_days=window_days), clock)


def test_pending_validation_without_labels(tmp_path, plain, enc):
    from amge_eval.leaderboard.entries import EntryInvalid
    from amge_eval.leaderboard.pending import validate_pending

    enc_dir, _ = enc
    subs = tmp_path / "subs"
    good = add_pending(subs, plain, "Good model")
    assert validate_pending(subs, ids_dir=enc_dir) == [f"{DATASET}/good-model"]
    assert validate_pending(subs, [str(good / "entry.toml")], ids_dir=enc_dir) == [
        f"{DATASET}/good-model"]
    cases = {
        "E916": add_pending(subs, plain, "No team", team=None),
        "E919": add_pending(subs, plain, "Misnamed", folder="other-name"),
        "E914": add_pending(subs, plain, "Val only", splits=("val_seen", "val_unseen")),
    }
    (add_pending(subs, plain, "With scores") / "scores.json").write_text("{}")
    bad_ids = add_pending(subs, plain, "Bad ids")
    from amge_eval.harness.predictions import write_predictions

    ids = plain.ids("test_unseen")
    write_predictions(bad_ids / "predictions" / "test_unseen.npz", ids + ["zz/not-a-sample"],
                      np.zeros((len(ids) + 1, 20)), DATASET, "test_unseen")
    for code, folder in cases.items():
        with pytest.raises(EntryInvalid) as e:
            validate_pending(subs, [str(folder)], ids_dir=enc_dir)
        assert code in {p.code for p in e.value.problems}, (code, e.value.message)
    with pytest.raises(EntryInvalid) as e:
        validate_pending(subs, [str(bad_ids)], ids_dir=enc_dir)
    assert {p.code for p in e.value.problems} == {"E401"}
    with pytest.raises(EntryInvalid) as e:  # everything at once
        validate_pending(subs, ids_dir=enc_dir)
    assert {"E916", "E919", "E914", "E401"} <= {p.code for p in e.value.problems}
    synth = make_store(tmp_path / "synth-labels", sizes=SMALL, dataset="synth")
    public = add_pending(tmp_path / "subs2", synth, "Public", dataset="synth")
    with pytest.raises(EntryInvalid) as e:
        validate_pending(tmp_path / "subs2", [str(public)], ids_dir=enc_dir)
    assert "E919" in {p.code for p in e.value.problems} and "amge-eval submit" in e.value.message


def test_quota_refusal_leaves_the_store_untouched(tmp_path, plain):
    from amge_eval.leaderboard.pending import score_pending
    from amge_eval.leaderboard.submit import submit

    subs = copy_reported(tmp_path / "subs")
    clock = Clock()
    policy = _policy(clock, scorings=2, window_days=30)
    for i in range(2):
        add_pending(subs, plain, f"Model {i}", team="ACME Lab" if i == 0 else "acme-lab", seed=i)
        res = score_pending(subs, plain.root, policy, resamples=RESAMPLES)
        assert res.accepted == [f"{DATASET}/model-{i}"] and not res.refused
        clock.now += timedelta(days=1)
    ledger = QuotaLedger.read(subs / DATASET / "quota.json")
    assert [s.entry for s in ledger.scorings] == ["model-0", "model-1"]
    assert {s.team_key for s in ledger.scorings} == {team_key("ACME Lab")}
    assert all(s.splits == ["test_seen", "test_unseen"] for s in ledger.scorings)
    # a third scoring by the same team within 30 days: refused, nothing changes
    third = add_pending(subs, plain, "Model 2", team="Acme LAB", seed=2)
    pending_before = tree_digest(third)
    board_before = tree_digest(subs / DATASET)
    res = score_pending(subs, plain.root, policy, resamples=RESAMPLES)
    assert not res.accepted and res.refused[f"{DATASET}/model-2"].code == "E917"
    msg = res.refused[f"{DATASET}/model-2"].message
    assert "2026-12-01" in msg and "model-0, model-1" in msg
    assert tree_digest(subs / DATASET) == board_before
    assert tree_digest(third) == pending_before
    # the same through submit directly
    with pytest.raises(AmgeError) as e:
        submit(third / "predictions", DATASET, "Model 2", submissions_dir=subs,
               labels_dir=plain.root, entry_file=third / "entry.toml", resamples=RESAMPLES,
               quota=policy)
    assert _code(e) == "E917" and tree_digest(subs / DATASET) == board_before
    # another team is not affected; the window rolls
    add_pending(subs, plain, "Other team model", team="Beta", seed=3)
    clock.now += timedelta(days=29)  # model-0 (day 0) is now 30 days old
    res = score_pending(subs, plain.root, policy, resamples=RESAMPLES)
    assert sorted(res.accepted) == [f"{DATASET}/model-2", f"{DATASET}/other-team-model"]
    assert not (subs / "_pending").exists()


def test_quota_needs_a_team_and_a_valid_file(tmp_path, plain):
    from amge_eval.leaderboard.quota import QuotaPolicy
    from amge_eval.leaderboard.submit import submit

    subs = copy_reported(tmp_path / "subs")
    preds = write_pred_dir(tmp_path / "preds", plain, 0.5)
    before = tree_digest(subs)
    with pytest.raises(AmgeError) as e:
        submit(preds, DATASET, "No team", submissions_dir=subs, labels_dir=plain.root,
               resamples=RESAMPLES, quota=_policy(Clock()))
    assert _code(e) == "E916" and tree_digest(subs) == before
    # public labels (synth): no quota unless the file lists the dataset
    assert _policy(Clock()).limit("synth") is None
    assert _policy(Clock()).limit(DATASET).scorings == 2
    for text in ("scorings = 0\n", "window_days = \"30\"\n", "scoring = 3\n",
                 "[datasets.musclemap136]\nscorings = -1\n", "not toml ["):
        (tmp_path / "quota.toml").write_text(text)
        with pytest.raises(AmgeError) as e:
            QuotaPolicy.from_file(tmp_path / "quota.toml")
        assert _code(e) == "E918", text
    with pytest.raises(AmgeError) as e:
        QuotaPolicy.from_file(tmp_path / "none.toml")
    assert _code(e) == "E918"
    (tmp_path / "quota.toml").write_text("scorings = 1\n[datasets.synth]\nscorings = 4\n")
    pol = QuotaPolicy.from_file(tmp_path / "quota.toml")
    assert pol.limit("synth").scorings == 4 and pol.limit(DATASET).scorings == 1
    (subs / DATASET / "quota.json").write_text('{"kind": "quota", "schema_version": "1.0"}')
    with pytest.raises(AmgeError) as e:  # a broken ledger is never silently reset
        submit(preds, DATASET, "Teamed", submissions_dir=subs, labels_dir=plain.root,
               metadata={"team": "T"}, resamples=RESAMPLES, quota=pol)
    assert _code(e) == "E918"


def test_a_team_replaces_only_its_own_verified_entry(tmp_path, plain):
    from amge_eval.leaderboard.pending import score_pending

    subs = copy_reported(tmp_path / "subs")
    policy = _policy(Clock(), scorings=5)
    add_pending(subs, plain, "Shared name", team="Alpha", seed=1)
    assert score_pending(subs, plain.root, policy, resamples=RESAMPLES).accepted
    add_pending(subs, plain, "Shared name", team="Beta", seed=2)
    before = tree_digest(subs / DATASET)
    res = score_pending(subs, plain.root, policy, resamples=RESAMPLES)
    assert res.refused[f"{DATASET}/shared-name"].code == "E907"
    assert tree_digest(subs / DATASET) == before
    shutil.rmtree(subs / "_pending")
    add_pending(subs, plain, "Shared name", team="alpha", seed=3)
    res = score_pending(subs, plain.root, policy, resamples=RESAMPLES)
    assert res.accepted == [f"{DATASET}/shared-name"]
    reported = next(p.name for p in (subs / DATASET).iterdir() if p.name.startswith("paper-"))
    add_pending(subs, plain, reported, team="Alpha", seed=4)  # a paper row's name
    res = score_pending(subs, plain.root, policy, resamples=RESAMPLES)
    assert res.refused[f"{DATASET}/{reported}"].code == "E907"


def test_entry_team_is_checked():
    from amge_eval.leaderboard.entries import EntryInvalid, validate_entry

    base = {"entry_version": 1, "name": "X", "dataset": DATASET, "status": "verified",
            "family": "video", "authors": [], "modalities_train": ["rgb"],
            "modalities_test": ["rgb"], "training_data": "t", "pretraining": "none"}
    assert validate_entry({**base, "team": "Ünïcødé Team"}, has_predictions=True).team
    for bad in ("---", "a\u0007b", "x" * 101, 7):
        with pytest.raises(EntryInvalid) as e:
            validate_entry({**base, "team": bad}, has_predictions=True)
        assert e.value.problems[0].code == "E903", bad
    assert team_key("ACME Lab") == team_key("acme-lab") == team_key("Acme_Lab") == "acmelab"
