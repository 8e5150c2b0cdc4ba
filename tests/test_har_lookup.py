"""HAR + lookup table: an activity classifier whose muscle scores are its activities' labels."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from amge_eval.baselines.registry import get_baseline  # noqa: E402
from amge_eval.harness.errors import AmgeError  # noqa: E402
from amge_eval.harness.labels import make_label_set  # noqa: E402

TABLE = np.array([[1, 1, 0] + [0] * 17, [0, 1, 1] + [0] * 17, [0, 0, 1] + [1] + [0] * 16],
                 dtype=np.uint8)


def _labels(n_per=4):
    acts = [a for a in ("curl", "press", "squat") for _ in range(n_per)]
    y = TABLE[np.repeat(np.arange(3), n_per)]
    return make_label_set("synth", "train", [f"{a}/c{i}" for i, a in enumerate(acts)], acts,
                          [""] * len(acts), y)


def _model(**cfg):
    spec = get_baseline("har-lookup")
    small = {"channels": [8, 8, 16, 16], "strides": [1, 2, 1, 2]}
    model = spec.builder(**{"backbone_options": small, **cfg})
    return model.fit_labels(_labels())


def test_the_table_and_targets_come_from_the_train_labels():
    m = _model()
    assert m.activities == ["curl", "press", "squat"]
    np.testing.assert_array_equal(m.table.numpy(), TABLE.astype(np.float32))
    np.testing.assert_array_equal(m.activity_of_row.numpy(), np.repeat(np.arange(3), 4))
    x = torch.randn(5, 3, 16, 17, 1)
    assert m(x).shape == (5, 3)  # one logit per training activity


def test_hard_and_soft_lookup():
    logits = torch.tensor([[3.0, 1.0, 0.0], [0.0, 0.0, 5.0]])
    hard = _model(lookup="hard").muscle_scores(logits)
    np.testing.assert_array_equal(hard.numpy(), TABLE[[0, 2]].astype(np.float32))
    soft = _model(lookup="soft").muscle_scores(logits)
    probs = torch.softmax(logits, dim=1).numpy()
    np.testing.assert_allclose(soft.numpy(), probs @ TABLE.astype(np.float32), atol=1e-6)


def test_it_learns_the_activities():
    torch.manual_seed(0)
    m = _model()
    rows = torch.arange(12)
    x = torch.randn(12, 3, 16, 17, 1) + m.activity_of_row.view(-1, 1, 1, 1, 1).float()
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    first = None
    for _ in range(30):
        loss = m.training_loss(m(x), None, rows).mean()
        first = first if first is not None else float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.5 * first
    m.eval()
    np.testing.assert_array_equal(m.muscle_scores(m(x)).detach().numpy(),
                                  TABLE[np.repeat(np.arange(3), 4)].astype(np.float32))


def test_bad_settings_are_refused():
    with pytest.raises(AmgeError, match="backbone"):
        get_baseline("har-lookup").builder(backbone="resnet")
    unnamed = make_label_set("synth", "train", ["a", "b"], ["", ""], ["", ""], TABLE[:2])
    with pytest.raises(AmgeError, match="name none"):
        get_baseline("har-lookup").builder().fit_labels(unnamed)
