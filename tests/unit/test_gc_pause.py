"""The collector switch used around bulk work (keyscope.gc_pause)."""

from __future__ import annotations

import gc

import pytest

from keyscope.gc_pause import gc_paused


@pytest.fixture(autouse=True)
def _collector_enabled():
    was_enabled = gc.isenabled()
    gc.enable()
    yield
    gc.unfreeze()
    if not was_enabled:
        gc.disable()


def test_pauses_inside_and_resumes_after():
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_pause_resumes_only_at_the_outer_end():
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_leaves_a_disabled_collector_disabled():
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_resumes_after_an_error():
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_freeze_moves_what_the_block_made_out_of_later_collections():
    gc.unfreeze()
    with gc_paused(freeze=True):
        made = [[index] for index in range(10_000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(made)
    # Nothing the block made is left for the young generation to scan.
    young = gc.get_objects(generation=0)
    assert not any(item is made for item in young)


def test_without_freeze_nothing_is_frozen():
    gc.unfreeze()
    with gc_paused():
        made = [[index] for index in range(1_000)]
    assert gc.get_freeze_count() == 0
    assert made
