import pytest
import torch

from xaiwidgets.core.threads import single_threaded


def test_single_threaded_restores_the_thread_count_even_after_an_error():
    before = torch.get_num_threads()
    with single_threaded():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), single_threaded():
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before
