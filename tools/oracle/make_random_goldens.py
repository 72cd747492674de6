"""Golden cases for the stateless random ops, computed by TensorFlow (CPU, Philox).

Run with the oracle venv (TensorFlow 2.21):

    TF_CPP_MIN_LOG_LEVEL=3 tools/oracle/.venv/bin/python tools/oracle/make_random_goldens.py

Same case format and machinery as make_kernel_goldens.py (golden_sets.write_golden_set), written to
tests/fixtures/kernels_random/ (cases.json.gz, random.npz) so the sets regenerate independently;
also the end-to-end model tests/fixtures/runtime_ops/stateless_random and its golden.

TensorFlow runs with one intra-op thread here: StatelessParameterizedTruncatedNormal starts each
shard of its work on a stream offset by the shard's first output, so for large outputs its values
depend on the thread count; with one thread they are the single-stream values savedmodel reproduces.
The other ops give the same values for any thread count (per-output streams or one sequential pass).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_kernel_goldens as mk  # noqa: E402
from golden_sets import write_golden_set  # noqa: E402
from make_kernel_goldens import a, case  # noqa: E402

tf = mk.tf
OUT = mk.ROOT / "tests" / "fixtures" / "kernels_random"
MODEL = mk.ROOT / "tests" / "fixtures" / "runtime_ops" / "stateless_random"
R = "random"
SEEDS = [a([7, 8], np.int64), a([2**40 + 3, -5], np.int64), a([-1, 123456789], np.int32)]
KEY, COUNTER, PHILOX, AUTO = a([5], np.uint64), a([0, 0], np.uint64), a(1, np.int32), a(3, np.int32)
KEY2, COUNTER2 = a([2**63 + 11], np.uint64), a([2**32 - 1, 9], np.uint64)


def shp(*dims: int) -> np.ndarray:
    return a(list(dims), np.int32)


def gamma_cases() -> None:
    alphas = a([1.0, 0.3, 2.5, 7.5, 1e-3, 40.0], np.float64)
    for seed in SEEDS:
        case(R, "StatelessRandomGammaV2", shp(5, 6), seed, alphas.astype(np.float32))
    case(R, "StatelessRandomGammaV2", shp(4, 6), SEEDS[1], alphas, name="f64")
    case(R, "StatelessRandomGammaV2", shp(3, 6), SEEDS[0], alphas.astype(np.float16), name="f16")
    case(R, "StatelessRandomGammaV2", shp(2, 3, 4), SEEDS[0], a(0.7, np.float32), name="scalar_alpha")
    grid = a([[0.5, 1.0, 3.0], [1.5, 9.0, 0.05]], np.float32)
    case(R, "StatelessRandomGammaV2", shp(4, 2, 3), SEEDS[1], grid, name="alpha_2d")
    case(R, "StatelessRandomGammaV2", shp(0, 3), SEEDS[0], grid[0], name="empty")
    case(R, "StatelessRandomGammaV2", shp(4, 2), SEEDS[0], grid[0], name="bad_shape")
    for alg, key, counter in [(PHILOX, KEY, COUNTER), (AUTO, KEY2, COUNTER2)]:
        for dt, np_dt in [(tf.float32, np.float32), (tf.float64, np.float64)]:
            case(
                R, "StatelessRandomGammaV3", shp(3, 6), key, counter, alg, alphas.astype(np_dt), name=dt.name
            )
    case(R, "StatelessRandomGammaV3", shp(5, 2, 3), KEY, COUNTER, PHILOX, grid.astype(np.float16), name="f16")


def poisson_cases() -> None:
    lams = a([0.5, 3.0, 9.9, 10.0, 25.0, 1000.0, 0.0, -1.0], np.float64)
    for seed in SEEDS:
        case(R, "StatelessRandomPoisson", shp(4, 8), seed, lams.astype(np.float32), dtype=tf.float32)
    for rt, rnp in [(tf.float64, np.float64), (tf.float16, np.float16)]:
        for dt in [tf.int32, tf.int64, tf.float16, tf.float64]:
            case(
                R,
                "StatelessRandomPoisson",
                shp(3, 8),
                SEEDS[1],
                lams.astype(rnp),
                name=f"{rt.name}_{dt.name}",
                dtype=dt,
            )
    ints = a([0, 1, 5, 12, 300], np.int32)
    case(R, "StatelessRandomPoisson", shp(6, 5), SEEDS[0], ints, name="int32_rate", dtype=tf.int32)
    case(
        R,
        "StatelessRandomPoisson",
        shp(6, 5),
        SEEDS[2],
        ints.astype(np.int64),
        name="int64_rate",
        dtype=tf.float32,
    )
    grid = a([[2.0, 40.0], [0.1, 11.0]], np.float32)
    case(R, "StatelessRandomPoisson", shp(3, 2, 2), SEEDS[1], grid, name="lam_2d", dtype=tf.int64)
    case(R, "StatelessRandomPoisson", shp(7), SEEDS[0], a(4.5, np.float32), name="scalar_lam", dtype=tf.int32)


def truncated_normal_cases() -> None:
    # (means, stddevs, minvals, maxvals): the randn, uniform-rejection and exponential branches,
    # a one-sided lower bound at -inf (flipped), and maxval below the mean (flipped)
    params = [
        a([0.0, 1.0, 0.0, 0.0, 5.0]),
        a([1.0, 2.0, 1.0, 0.5, 1.0]),
        a([-2.0, -3.0, 0.5, 1.2, -np.inf]),
        a([2.0, 10.0, 0.8, np.inf, 4.0]),
    ]
    for seed in SEEDS:
        case(R, "StatelessParameterizedTruncatedNormal", shp(6, 5), seed, *params)
    p64 = [p.astype(np.float64) for p in params]
    case(R, "StatelessParameterizedTruncatedNormal", shp(4, 5), SEEDS[1], *p64, name="f64")
    p16 = [p.astype(np.float16) for p in params]
    case(R, "StatelessParameterizedTruncatedNormal", shp(4, 5), SEEDS[2], *p16, name="f16")
    scalars = [a(0.0), a(1.0), a(-1.0), a(1.0)]
    case(R, "StatelessParameterizedTruncatedNormal", shp(3, 4), SEEDS[0], *scalars, name="scalars")
    mixed = [a([[0.0], [1.0]]), a(1.0), a([-1.0, 0.0, 0.5]), a(2.0)]
    case(R, "StatelessParameterizedTruncatedNormal", shp(5, 2, 3), SEEDS[1], *mixed, name="broadcast")
    case(R, "StatelessParameterizedTruncatedNormal", shp(600), SEEDS[0], *scalars, name="long")
    bad = [a(0.0), a(-1.0), a(-1.0), a(1.0)]
    case(R, "StatelessParameterizedTruncatedNormal", shp(3), SEEDS[0], *bad, name="bad_stddev")


def int_and_key_cases() -> None:
    for dt in [tf.int32, tf.int64, tf.uint32, tf.uint64]:
        case(R, "StatelessRandomUniformFullInt", shp(3, 5), SEEDS[1], name=dt.name, dtype=dt)
        case(R, "StatelessRandomUniformFullIntV2", shp(7), KEY2, COUNTER2, PHILOX, name=dt.name, dtype=dt)
    case(R, "StatelessRandomUniformFullInt", shp(2, 2), SEEDS[2], name="seed_i32", dtype=tf.int64)
    for seed in SEEDS:
        case(R, "StatelessRandomGetKeyCounterAlg", seed)
    case(R, "StatelessRandomGetKeyCounter", SEEDS[2], name="neg_i32")


def shuffle_cases() -> None:
    case(R, "StatelessShuffle", np.arange(10, dtype=np.int32), KEY, COUNTER, PHILOX)
    case(
        R, "StatelessShuffle", np.arange(40, dtype=np.float32).reshape(8, 5), KEY2, COUNTER2, AUTO, name="2d"
    )
    case(R, "StatelessShuffle", np.arange(300, dtype=np.int64), KEY2, COUNTER, PHILOX, name="long")
    case(
        R,
        "StatelessShuffle",
        mk.s([["a", "b"], ["c", "d"], ["e", "f"]]),
        KEY,
        COUNTER2,
        PHILOX,
        name="strings",
    )
    case(R, "StatelessShuffle", a([[1.0, 2.0]]), KEY, COUNTER, PHILOX, name="one_row")
    case(R, "StatelessShuffle", a(3.0), KEY, COUNTER, PHILOX, name="scalar")


def index_shuffle_cases() -> None:
    idx = np.arange(12)
    for dt in [np.int32, np.int64, np.uint32, np.uint64]:
        case(
            R,
            "RandomIndexShuffle",
            idx.astype(dt),
            a([1, 2, 3], dt),
            a(11, dt),
            name=np.dtype(dt).name,
            consts=["static"],
        )
    case(
        R,
        "RandomIndexShuffle",
        a(5, np.int64),
        a([7, 8, 9], np.int64),
        a(2**20, np.int64),
        name="scalar",
        consts=["static"],
    )
    seeds = np.arange(15, dtype=np.int64).reshape(5, 3) * 977 - 3
    maxes = a([0, 1, 100, 2**40 + 5, 70000], np.int64)
    case(
        R,
        "RandomIndexShuffle",
        a([0, 1, 42, 2**39, 69999], np.int64),
        seeds,
        maxes,
        name="rows",
        consts=["static"],
    )
    case(
        R,
        "RandomIndexShuffle",
        idx.astype(np.int32),
        a([-1, 2, 3], np.int32),
        a(11, np.int32),
        name="rounds6",
        rounds=6,
        consts=["static"],
    )
    big = a([2**64 - 1, 2**63, 17], np.uint64)
    case(
        R,
        "RandomIndexShuffle",
        big,
        a([4, 5, 6], np.uint64),
        a(2**64 - 1, np.uint64),
        name="u64_full",
        consts=["static"],
    )


class StatelessSampler(tf.Module):
    """What a TF2 user writes: the public tf.random stateless APIs inside one tf.function."""

    @tf.function(input_signature=[tf.TensorSpec([2], tf.int64), tf.TensorSpec([3], tf.float32)])
    def sample(self, seed: tf.Tensor, alpha: tf.Tensor) -> dict[str, tf.Tensor]:
        rows = tf.reshape(tf.range(12, dtype=tf.float32), [6, 2])
        return {
            "gamma": tf.random.stateless_gamma([5, 3], seed, alpha=alpha),
            "gamma_f64": tf.random.stateless_gamma(
                [2, 3], seed, alpha=tf.cast(alpha, tf.float64), beta=2.0, dtype=tf.float64
            ),
            "poisson": tf.random.stateless_poisson([4, 3], seed, lam=alpha * 6.0, dtype=tf.int32),
            "truncated": tf.random.stateless_parameterized_truncated_normal(
                [2, 3], seed, means=alpha, stddevs=1.5, minvals=-1.0, maxvals=4.0
            ),
            "full_int": tf.random.stateless_uniform([5], seed, minval=None, maxval=None, dtype=tf.int64),
            "shuffled": tf.random.experimental.stateless_shuffle(rows, seed),
            "index_shuffle": tf.random.experimental.index_shuffle(tf.range(6), seed, 9),
        }


def save_model() -> dict:
    """Save StatelessSampler; return its golden: the calls made and TensorFlow's outputs."""
    from make_runtime_op_goldens import jsonable

    module = StatelessSampler()
    if MODEL.exists():
        shutil.rmtree(MODEL)
    tf.saved_model.save(module, str(MODEL), signatures={"serving_default": module.sample})
    loaded = tf.saved_model.load(str(MODEL))
    calls = []
    for seed, alpha in [([7, 8], [0.5, 1.0, 3.0]), ([2**40 + 3, -5], [2.0, 0.2, 12.0])]:
        inputs = {"seed": np.array(seed, np.int64), "alpha": np.array(alpha, np.float32)}
        outputs = loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in inputs.items()})
        calls.append(
            {"signature": "serving_default", "inputs": jsonable(inputs), "outputs": jsonable(outputs)}
        )
    return {"stateless_random": {"calls": calls}}


def main() -> int:
    tf.config.threading.set_intra_op_parallelism_threads(1)
    for build in [
        gamma_cases,
        poisson_cases,
        truncated_normal_cases,
        int_and_key_cases,
        shuffle_cases,
        index_shuffle_cases,
    ]:
        build()
    broken = write_golden_set(OUT)
    golden = json.dumps(save_model(), indent=1, sort_keys=True) + "\n"
    (MODEL.parent / "stateless_random.json").write_text(golden)
    print(f"wrote {MODEL} and its golden")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
