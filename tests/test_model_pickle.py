"""A wrapped model survives pickling, so joblib can send it to worker processes."""

import pickle

import numpy as np
import torch

import xaiwidgets as xw


def test_torch_model_pickles_and_predicts_the_same(credit, credit_model):
    copy = pickle.loads(pickle.dumps(credit_model))
    X = credit.X_test[:20]
    np.testing.assert_array_equal(copy.logits(X), credit_model.logits(X))
    assert copy.dataset.name == credit.name


def test_unpickled_model_keeps_restoring_train_flags():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout()).train()
    copy = pickle.loads(pickle.dumps(xw.wrap(net, input_shape=(2,))))
    with copy.inference():
        assert not copy.torch_module.training
    assert copy.torch_module.training
