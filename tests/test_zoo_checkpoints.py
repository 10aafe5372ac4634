"""xw.zoo trainers keep evenly spaced checkpoints for TracIn without changing training."""

from __future__ import annotations

import pytest
import torch

import xaiwidgets as xw


def _same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def moons():
    return xw.datasets.load_moons(n=300)


def test_checkpoints_do_not_change_the_weights_and_end_at_the_final_model(moons):
    plain = xw.zoo.train_mlp(moons, hidden=(8,), epochs=6, cache=False, progress=False)
    kept = xw.zoo.train_mlp(
        moons, hidden=(8,), epochs=6, cache=False, progress=False, checkpoints=3
    )
    assert _same_state(plain.state_dict(), kept.state_dict())
    assert [c.epoch for c in kept.checkpoints_] == [2, 4, 6]
    assert all(c.learning_rate == 3e-3 for c in kept.checkpoints_)
    # The standardization is folded into every checkpoint as into the model itself,
    # so the last checkpoint is the returned network, raw inputs in.
    assert _same_state(kept.checkpoints_[-1].state, kept.state_dict())
    assert not _same_state(kept.checkpoints_[0].state, kept.state_dict())


def test_checkpoints_are_cached_beside_the_weights(moons, tmp_path, monkeypatch):
    monkeypatch.setenv("XAIWIDGETS_CACHE_DIR", str(tmp_path))
    first = xw.zoo.train_cnn(xw.datasets.load_digits(), epochs=2, progress=False, checkpoints=2)
    files = sorted(p.name for p in (tmp_path / "xaiwidgets" / "models").iterdir())
    assert len(files) == 2 and any("checkpoints2" in f for f in files)
    again = xw.zoo.train_cnn(xw.datasets.load_digits(), epochs=2, progress=False, checkpoints=2)
    assert [c.epoch for c in again.checkpoints_] == [1, 2]
    for a, b in zip(first.checkpoints_, again.checkpoints_, strict=True):
        assert _same_state(a.state, b.state)
    # Asking without checkpoints reuses the same weights file.
    plain = xw.zoo.train_cnn(xw.datasets.load_digits(), epochs=2, progress=False)
    assert _same_state(plain.state_dict(), first.state_dict())
    assert not hasattr(plain, "checkpoints_")


def test_checkpoints_parameter_is_validated(moons):
    with pytest.raises(ValueError, match="'checkpoints'"):
        xw.zoo.train_mlp(moons, epochs=3, checkpoints=4, cache=False, progress=False)
    with pytest.raises(TypeError, match="'checkpoints'"):
        xw.zoo.train_mlp(moons, epochs=3, checkpoints=1.5, cache=False, progress=False)
