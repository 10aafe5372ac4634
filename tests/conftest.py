"""Shared fixtures: bundled data sets and demo models, trained once per session.

Models are cached in the user's cache directory by ``xw.zoo`` (training is
deterministic), so a second test run starts fast.
"""

from __future__ import annotations

import os

import pytest

import xaiwidgets as xw


@pytest.fixture(scope="session")
def credit():
    return xw.datasets.load_credit()


@pytest.fixture(scope="session")
def credit_model(credit):
    return xw.wrap(xw.zoo.train_mlp(credit, progress=False), credit)


@pytest.fixture(scope="session")
def digits():
    return xw.datasets.load_digits()


@pytest.fixture(scope="session")
def digits_cnn(digits):
    return xw.wrap(xw.zoo.train_cnn(digits, progress=False), digits)


@pytest.fixture(scope="session")
def digits_mlp(digits):
    return xw.wrap(xw.zoo.train_mlp(digits, hidden=(64, 64), progress=False), digits)


@pytest.fixture(scope="session")
def breast_cancer():
    return xw.datasets.load_breast_cancer()


@pytest.fixture(scope="session")
def breast_cancer_model(breast_cancer):
    return xw.wrap(xw.zoo.train_mlp(breast_cancer, progress=False), breast_cancer)


@pytest.fixture
def widgets():
    """Create widgets through this list; they are closed (threads stopped) afterwards."""
    made = []
    yield made
    for w in made:
        w.close()


def browser_required() -> bool:
    """CI sets XAIWIDGETS_REQUIRE_BROWSER=1: browser tests must run, not skip."""
    return os.environ.get("XAIWIDGETS_REQUIRE_BROWSER", "") == "1"
