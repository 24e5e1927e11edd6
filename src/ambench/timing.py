"""Timing JAX code correctly: compile outside the clock, block on the result, take the median."""

from __future__ import annotations

import statistics
import time

import jax
import jax.numpy as jnp


def time_jitted(fn, *args, repeats: int = 5, min_time: float = 0.0) -> float:
    """Median wall seconds of one call of an already-jitted `fn` (first call = warm-up)."""
    jax.block_until_ready(fn(*args))
    times = []
    while len(times) < repeats or sum(times) < min_time:
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def matmul_rate(m: int, k: int, n: int, *, precision: str = "fp32", repeats: int = 5) -> float:
    """Measured FLOP/s of an (m×k)@(k×n) product on the default device: the ceiling to compare to."""
    from .models._continuous import _matmul

    a = jax.random.normal(jax.random.PRNGKey(0), (m, k))
    b = jax.random.normal(jax.random.PRNGKey(1), (k, n))
    fn = jax.jit(lambda a, b: _matmul(a, b, precision))
    return 2.0 * m * k * n / time_jitted(fn, a, b, repeats=repeats)


def device_name() -> str:
    d = jax.devices()[0]
    return f"{d.platform}:{getattr(d, 'device_kind', d.platform)}"


_COUNTS = {"programs": 0, "cache_hits": 0}
_LISTENING = [False]


def _on_duration(name, duration, **kwargs):
    if name == "/jax/core/compile/backend_compile_duration":
        _COUNTS["programs"] += 1


def _on_event(name, **kwargs):
    if name == "/jax/compilation_cache/cache_hits":
        _COUNTS["cache_hits"] += 1


def _listen() -> None:
    if not _LISTENING[0]:
        jax.monitoring.register_event_duration_secs_listener(_on_duration)
        jax.monitoring.register_event_listener(_on_event)
        _LISTENING[0] = True


def compilations() -> int:
    """Programs XLA has compiled in this process so far (every jit and eager op counts; a
    program read from the persistent compilation cache counts too: see `cache_hits`)."""
    _listen()
    return _COUNTS["programs"]


def cache_hits() -> int:
    """Of `compilations()`, those read from the persistent compilation cache instead."""
    _listen()
    return _COUNTS["cache_hits"]


def compile_count(fn) -> int:
    """Number of programs a `jax.jit`/`eqx.filter_jit` function has compiled so far."""
    size = getattr(fn, "_cache_size", None)
    return int(size()) if callable(size) else -1


__all__ = ["time_jitted", "matmul_rate", "device_name", "compile_count", "compilations", "cache_hits", "jnp"]
