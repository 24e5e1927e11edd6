"""`KeepLast`: the kept value only for the same key and the same array contents."""

import jax.numpy as jnp
import numpy as np

from ambench._memo import KeepLast


def test_keep_last_recomputes_for_another_key_content_shape_or_an_edit_in_place():
    memo, calls = KeepLast(), []
    compute = lambda: calls.append(1) or len(calls)  # noqa: E731
    a = np.arange(6, dtype=np.float32)
    assert memo.get("k", (a,), compute) == 1
    assert memo.get("k", (a.copy(),), compute) == 1  # same content in a new array: kept
    assert memo.get("other", (a,), compute) == 2  # another key
    assert memo.get("other", (a.astype(np.float64),), compute) == 3  # another dtype
    assert memo.get("other", (a.reshape(2, 3).astype(np.float64),), compute) == 4  # another shape
    b = np.arange(6, dtype=np.float32)
    memo.get("k", (b,), compute)
    b[2] = -1.0  # the same object, edited in place: not the kept one
    assert memo.get("k", (b,), compute) == 6
    j = jnp.arange(4.0)
    assert memo.get("j", (j,), compute) == 7
    assert memo.get("j", (j,), compute) == 7  # the same immutable JAX array
    assert memo.get("j", (jnp.arange(4.0) + 1,), compute) == 8
    memo.clear()
    assert memo.get("j", (j,), compute) == 9
