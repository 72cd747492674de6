"""Stateless random kernels beyond the TensorFlow goldens (tests/fixtures/kernels_random): where
TensorFlow hangs or is thread-dependent, the refusals savedmodel makes instead, and properties that
hold for any seed."""

from __future__ import annotations

import numpy as np
import pytest

from savedmodel.errors import ExecutionError
from savedmodel.ops import random as random_ops
from tests.ops.test_kernel_properties import _run

SEED = np.array([7, 8], dtype=np.int64)
KEY, COUNTER = np.array([5], dtype=np.uint64), np.array([0, 0], dtype=np.uint64)


@pytest.mark.parametrize("lam", [np.nan, np.inf])
def test_poisson_refuses_rates_tensorflow_never_finishes(lam: float) -> None:
    with pytest.raises(ExecutionError, match="lam must be finite"):
        _run("StatelessRandomPoisson", np.array([3], np.int32), SEED, np.array(lam), dtype=9)


def test_gamma_nan_alpha_gives_nan_like_tensorflow() -> None:
    out = _run("StatelessRandomGammaV2", np.array([4], np.int32), SEED, np.array(np.nan, np.float32), dtype=1)
    assert out.dtype == np.float32 and np.isnan(out).all()


def test_gamma_and_poisson_are_per_output_streams() -> None:
    """Each output has its own stream: a prefix of the parameters gives a prefix of the columns."""
    key, counter = random_ops._seed_key_counter(SEED)
    alphas = np.array([0.5, 2.0, 9.0])
    full = random_ops.philox_gamma(key, counter, alphas, [6, 3], np.dtype(np.float64))
    # output index (alpha-major) i uses stream block 256 * i: alpha 0's six samples come first
    head = random_ops.philox_gamma(key, counter, alphas[:1], [6, 1], np.dtype(np.float64))
    np.testing.assert_array_equal(full[:, :1], head)


@pytest.mark.parametrize("max_index", [0, 1, 9, 255, 70000])
def test_index_shuffle_is_a_permutation(max_index: int) -> None:
    index = np.arange(max_index + 1, dtype=np.int64)
    out = _run("RandomIndexShuffle", index, np.array([1, 2, 3], np.int64), np.array(max_index, np.int64))
    assert out.dtype == np.int64
    assert sorted(out.tolist()) == index.tolist()


def test_index_shuffle_rounds_must_be_even_and_at_least_4() -> None:
    with pytest.raises(ExecutionError, match="rounds"):
        _run("RandomIndexShuffle", np.array(1), np.array([1, 2, 3]), np.array(5), rounds=5)


def test_shuffle_is_a_permutation_of_rows_and_refuses_other_algorithms() -> None:
    value = np.arange(60, dtype=np.float32).reshape(20, 3)
    out = _run("StatelessShuffle", value, KEY, COUNTER, np.array(1, np.int32))
    assert sorted(out[:, 0].tolist()) == value[:, 0].tolist() and (out[:, 1] == out[:, 0] + 1).all()
    with pytest.raises(ExecutionError, match="algorithm 2"):
        _run("StatelessShuffle", value, KEY, COUNTER, np.array(2, np.int32))


def test_parameterized_truncated_normal_stays_in_bounds_and_validates() -> None:
    params = [np.array(v, np.float64) for v in ([0.0, 3.0], [1.0, 0.5], [-0.5, 3.5], [0.5, np.inf])]
    out = _run("StatelessParameterizedTruncatedNormal", np.array([500, 2], np.int32), SEED, *params, dtype=2)
    assert out.shape == (500, 2) and out.dtype == np.float64
    assert ((out[:, 0] >= -0.5) & (out[:, 0] <= 0.5)).all() and (out[:, 1] >= 3.5).all()
    bad = [np.array(0.0), np.array(1.0), np.array(1.0), np.array(-1.0)]  # minval > maxval
    with pytest.raises(ExecutionError, match="Invalid parameters"):
        _run("StatelessParameterizedTruncatedNormal", np.array([3], np.int32), SEED, *bad, dtype=2)


def test_full_int_v1_and_v2_agree_on_the_same_stream() -> None:
    key, counter = random_ops._seed_key_counter(SEED)
    key_t = np.array([key[0] | key[1] << 32], np.uint64)
    counter_t = np.array([counter[0] | counter[1] << 32, counter[2] | counter[3] << 32], np.uint64)
    v1 = _run("StatelessRandomUniformFullInt", np.array([9], np.int32), SEED, dtype=23)
    v2 = _run(
        "StatelessRandomUniformFullIntV2", np.array([9], np.int32), key_t, counter_t, np.array(1), dtype=23
    )
    np.testing.assert_array_equal(v1, v2)
