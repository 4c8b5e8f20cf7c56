"""few_collections: the collector's passes far apart inside, the thresholds restored after."""

from __future__ import annotations

import gc

import pytest

from hub_pipelines.ingesting import few_collections


def test_the_thresholds_are_raised_inside_and_restored_after() -> None:
    before = gc.get_threshold()
    with few_collections(young=50_000):
        assert gc.get_threshold()[0] == 50_000
        assert gc.isenabled()  # collections still run
    assert gc.get_threshold() == before


def test_the_thresholds_are_restored_when_the_block_fails_and_nesting_unwinds() -> None:
    before = gc.get_threshold()

    @few_collections()
    def failing() -> None:
        with few_collections(young=1_000):
            raise RuntimeError("page 3 failed")

    with pytest.raises(RuntimeError, match="page 3 failed"):
        failing()
    assert gc.get_threshold() == before
