"""A wrapped model can be pickled, so that joblib worker processes can use it."""

from __future__ import annotations

import pickle

import numpy as np
import torch

import xaiwidgets as xw


def test_a_wrapped_torch_model_survives_pickling(credit, credit_model):
    copy = pickle.loads(pickle.dumps(credit_model))
    X = credit.X_test[:5]
    np.testing.assert_array_equal(copy.logits(X), credit_model.logits(X))
    # The copy's eval-mode guard works on the copy's own module and starts idle.
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout()).train()
    model = pickle.loads(pickle.dumps(xw.wrap(net, input_shape=(2,))))
    with model.inference():
        assert not model.torch_module.training
    assert model.torch_module.training
