import pytest
import torch

from xaiwidgets.core.threads import torch_threads


def test_limits_and_restores_thread_count():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_restores_after_an_error_and_none_leaves_it_alone():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError), torch_threads(1):
        raise RuntimeError("stop")
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before


@pytest.mark.parametrize("bad, error", [(0, ValueError), (1.5, TypeError)])
def test_rejects_bad_counts(bad, error):
    with pytest.raises(error, match="threads"), torch_threads(bad):
        pass
