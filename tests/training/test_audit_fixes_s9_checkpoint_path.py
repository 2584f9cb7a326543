"""s9/b1 finding 8: an empty Checkpoint path is refused when the callback is made."""

import pytest

import rosenblatt as rb


def test_an_empty_checkpoint_path_is_refused():
    with pytest.raises(ValueError, match="Checkpoint: path is empty"):
        rb.callbacks.Checkpoint("")
