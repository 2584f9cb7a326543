"""rb.parallel.DASK_CONFIG names settings Dask knows, with values of the kinds it expects."""

import pytest

import rosenblatt as rb


def test_dask_config_keys_exist():
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    for key, value in rb.parallel.DASK_CONFIG.items():
        default = dask.config.get(key)  # KeyError for a name Dask does not have
        assert type(default) is type(value), key
    with dask.config.set(rb.parallel.DASK_CONFIG):
        assert dask.config.get("distributed.worker.profile.enabled") is False
