"""Regenerate docs/ops.md, the supported-ops table, from the kernel registry.

Usage: python tools/gen_ops_doc.py [--check]
With --check, exit 1 when docs/ops.md is out of date.

One table per kernel family: op, dtypes the kernel accepts, whether TensorFlow-made golden
cases cover it (tests/fixtures/kernels*), and notes (the kernel's docstring plus the
differences from TensorFlow listed in NOTES below).
"""

from __future__ import annotations

import gzip
import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ops.md"
# kernel golden sets: make_kernel_goldens.py's and its siblings' (tools/oracle/golden_sets.py)
GOLDENS = tuple(sorted((ROOT / "tests" / "fixtures").glob("kernels*/cases.json.gz")))

# Facts worth knowing per op, beyond its docstring.
NOTES: dict[str, str] = {
    "Round": "half to even; integer inputs give zeros, as TensorFlow's CPU kernel does",
    "Cast": "float->int truncates; NaN/out-of-range give INT_MIN for 32/64-bit targets (x86 behaviour)",
    "Maximum": "NaN propagates",
    "Minimum": "NaN propagates",
    "Max": "NaN propagates; empty reductions give -inf / the type's lowest value",
    "Min": "NaN propagates; empty reductions give +inf / the type's highest value",
    "ArgMax": "NaN never wins; ties go to the first index",
    "ArgMin": "NaN never wins; ties to first index",
    "FloorDiv": "integer division by zero raises",
    "FloorMod": "integer division by zero raises",
    "TruncateDiv": "integer division by zero raises",
    "TruncateMod": "integer division by zero raises",
    "Div": "integers: C-style truncating division",
    "Mod": "truncating (sign of the dividend)",
    "LeftShift": "shift amounts clamped to [0, bits-1]",
    "RightShift": "shift amounts clamped to [0, bits-1]",
    "Conv3D": "dilations > 1 supported (TensorFlow's CPU kernel refuses them)",
    "DepthwiseConv2dNative": "dilations > 1 supported (TensorFlow's CPU kernel refuses them)",
    "Conv2DBackpropInput": "dilations > 1 supported (TensorFlow's CPU kernel refuses them); no groups",
    "FusedBatchNormV3": "inference and training modes; reserve-space outputs are scratch values",
    "TopKV2": "always sorted descending; ties to the lower index",
    "StaticRegexFullMatch": "RE2 (google-re2), with TensorFlow's refusal of (?<name>...) groups",
    "RegexReplace": "RE2 rewrite syntax (\\0-\\9)",
    "StaticRegexReplace": "RE2 rewrite syntax (\\0-\\9)",
    "StringToHashBucketFast": "FarmHash Fingerprint64, bit-exact",
    "Fingerprint": "farmhash64, bit-exact",
    "StringToHashBucketStrong": "SipHash-2-4, bit-exact",
    "StringToHashBucket": "TensorFlow Hash64, bit-exact",
    "DecodeJpeg": "libjpeg-turbo through simplejpeg: pixel-exact with TensorFlow (IFAST/ISLOW IDCT, "
    "ratio, fancy upscaling, CMYK); try_recover_truncated's fill of truncated files may differ",
    "DecodeAndCropJpeg": "libjpeg-turbo through simplejpeg: pixel-exact with TensorFlow",
    "DecodeImage": "PNG and JPEG built in; GIF/BMP need Pillow (extra 'image')",
    "DecodePng": "built in (zlib); interlaced PNGs need Pillow",
    "EncodePng": "built in (zlib)",
    "EncodeJpeg": "needs Pillow (extra 'image')",
    "DecodeGif": "needs Pillow (extra 'image')",
    "DecodeBmp": "needs Pillow (extra 'image')",
    "PrintV2": "stdout/stderr/log streams; file:// outputs need allow_file_access (policy)",
    "Assert": "raises ExecutionError when the condition is false",
    "Qr": "factor signs may differ from TensorFlow's (product agrees)",
    "Svd": "singular vectors defined up to sign",
    "SelfAdjointEigV2": "eigenvectors defined up to sign",
    "ResizeArea": "float64 box filter; matches TensorFlow to float32 rounding",
    "NonMaxSuppressionV5": "soft-NMS (Gaussian) when soft_nms_sigma > 0",
    "UnicodeDecode": "UTF-8 input only",
    "UnicodeDecodeWithOffsets": "UTF-8 input only",
    "UnicodeTranscode": "UTF-8, UTF-16-BE, UTF-32-BE",
}

FAMILY_NOTES: dict[str, str] = {
    "random": "The stateless ops (uniform, normal, truncated normal, ints, gamma, Poisson, binomial, "
    "multinomial, parameterized truncated normal, shuffle, RandomIndexShuffle, key/counter/alg) "
    "reproduce TensorFlow's CPU Philox-4x32-10 streams bit for bit; StatelessMultinomial and "
    "StatelessParameterizedTruncatedNormal only while TensorFlow runs them as one shard (small "
    "outputs), since larger ones are split across its threads, each shard restarting the stream. "
    "The stateful ops draw from NumPy: values differ from TensorFlow's for the same seed; shapes, "
    "dtypes, ranges and distributions match. Seeded stateful nodes are reproducible from run to run.",
    "image": "Resizing uses TensorFlow's exact coordinate rules (align_corners, half_pixel_centers, "
    "the bicubic coefficient table). PNG and JPEG decoding are built in; GIF/BMP decoding and JPEG "
    "encoding need Pillow (`pip install 'savedmodel[image]'`): without it a model using them is "
    "refused at load, naming the extra.",
    "training": "Optimizer updates as TensorFlow's training ops compute them: `ApplyX` updates TF1 "
    "reference variables in place and outputs the reference, `ResourceApplyX` updates resource "
    "variables, `SparseApplyX`/`ResourceSparseApplyX` update the rows `indices` picks (a repeated "
    "index updates one after another). Checked over three train steps of TF1 SavedModels "
    "(tests/fixtures/training), not by kernel goldens.",
    "math": "Half-precision types (float16, bfloat16) are computed in float32 and rounded, as "
    "TensorFlow's CPU kernels do; sums of integers keep their type and wrap.",
}


def _golden_ops() -> set[str]:
    ops: set[str] = set()
    for path in GOLDENS:
        if path.exists():
            cases = json.loads(gzip.decompress(path.read_bytes()))["cases"]
            ops |= {c["op"] for c in cases if "error" not in c}
    return ops


def _first_line(text: str) -> str:
    line = " ".join(text.strip().split("\n\n")[0].split())
    return line.replace("|", "\\|")


def render() -> str:
    from savedmodel.ops import registry

    kernels = registry.all_kernels()
    golden = _golden_ops()
    families: dict[str, list[str]] = {}
    for op, k in kernels.items():
        families.setdefault(k.family, []).append(op)
    out = [
        "# Supported TensorFlow ops",
        "",
        "Generated by `python tools/gen_ops_doc.py` from the kernel registry; do not edit by hand.",
        "",
        f"{len(kernels)} ops in {len(families)} families. *Golden*: TensorFlow-made golden cases "
        "(tests/fixtures/kernels*, made by tools/oracle/make_kernel_goldens.py and its siblings) "
        "check this kernel's "
        "values, dtypes and shapes against TensorFlow 2.21.",
        "",
        "| Family | Ops |",
        "|---|---|",
    ]
    for family in sorted(families):
        out.append(f"| [{family}](#{family}) | {len(families[family])} |")
    for family in sorted(families):
        module = importlib.import_module(f"savedmodel.ops.{family}") if _is_module(family) else None
        out += ["", f"## {family}", ""]
        intro = FAMILY_NOTES.get(family) or (_first_line(module.__doc__ or "") if module else "")
        if intro:
            out += [intro, ""]
        out += ["| Op | Dtypes | Golden | Notes |", "|---|---|---|---|"]
        for op in sorted(families[family]):
            k = kernels[op]
            types = ", ".join(k.dtypes) if k.dtypes else ""
            notes = "; ".join(n for n in (NOTES.get(op, ""), _doc_note(k.doc)) if n)
            if k.side_effects:
                notes = ("side effects; " + notes) if notes else "side effects"
            out.append(f"| {op} | {types} | {'yes' if op in golden else ''} | {notes} |")
    return "\n".join(out) + "\n"


def _doc_note(doc: str) -> str:
    line = _first_line(doc)
    generic = ("elementwise ", "returns its input")
    return "" if not line or line.startswith(generic) else line


def _is_module(name: str) -> bool:
    return (ROOT / "savedmodel" / "ops" / f"{name}.py").exists()


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    text = render()
    if "--check" in argv:
        if not DOC.exists() or DOC.read_text() != text:
            print("docs/ops.md is out of date: run python tools/gen_ops_doc.py", file=sys.stderr)
            return 1
        return 0
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
