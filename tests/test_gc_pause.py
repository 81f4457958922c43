"""The cyclic collector is paused only while a bulk build runs, and restored as it was, also on error."""

import gc

import pytest

from engine.gc_pause import cyclic_gc_paused


def test_collector_paused_inside_and_restored_after_even_on_error():
    assert gc.isenabled()
    with cyclic_gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), cyclic_gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_already_off_stays_off():
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
