"""`savedmodel convert`: migrate a SavedModel, and `savedmodel export-weights`.

savedmodel convert --dir TF1_MODEL --output_dir OUT [--tag_set serve] [--signature_def a,b]
                   [--freeze] [--plain_inputs] [--overwrite] [--verbose]
    TF1 SavedModel -> TF2-style SavedModel (savedmodel.convert.tf1_to_tf2); --plain_inputs:
    tf.Example signatures over the parsed features; progress on stderr (a terminal, --verbose)
savedmodel convert --dir IN --output_dir OUT --rename_signature old:new --remove_signature k
                   --set_default k --method_name k:classify --b64 k:image
                   --add_signature 'k2:x=x:0->y=dense/BiasAdd:0@predict'
    edit signatures only; every other file is copied byte for byte
savedmodel convert --dir KERAS2_MODEL --to keras3 --output model.keras [--overwrite]
    tf-keras SavedModel -> Keras 3 .keras file (savedmodel.convert.keras3.to_keras3)
savedmodel convert ... --dry-run [--json]
    say what would change and what blocks the conversion; write nothing (exit 1 when blocked)
savedmodel convert --dir D --to onnx --output model.onnx [--signature_def K] [--dry-run] [--json]
    one signature as one ONNX model (needs savedmodel[onnx]), or the ops that block it (exit 1)
savedmodel export-weights --dir D --output weights.npz [--names tf|keys]
    every variable as a NumPy .npz (dtypes kept; see savedmodel.convert.weights)
savedmodel import-weights --dir D --weights weights.npz (--output_dir OUT | --checkpoint PREFIX)
    a copy of D whose variables hold the file's values (names, dtypes, shapes checked)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from savedmodel.cli.commands import help_of
from savedmodel.cli.run import parse_tags
from savedmodel.errors import InvalidInputError

if TYPE_CHECKING:  # savedmodel.convert is imported by the convert command itself, not by --help
    from savedmodel.convert.report import Report


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "convert",
        help=help_of("convert"),
        description="Convert a TF1 SavedModel into a TF2-style SavedModel (signatures as concrete "
        "functions, resource variables tracked in the object graph, TF2 checkpoint keys), or, with "
        "the signature flags, edit its signatures and nothing else; with --to onnx, write one signature "
        "as an ONNX model (savedmodel[onnx]) or list the ops that block it.",
    )
    parser.add_argument("--dir", required=True, help="the SavedModel to read")
    parser.add_argument(
        "--to",
        default="tf2",
        choices=sorted(TARGETS),
        help="tf2 (default): a TF2-style SavedModel; keras3: a Keras 3 .keras file from a tf-keras model; "
        "onnx: an ONNX model of one signature",
    )
    parser.add_argument("--output", help="the file to write (--to keras3, --to onnx)")
    parser.add_argument(
        "--output_dir", help="where to write the result (refused if it exists and is not empty)"
    )
    parser.add_argument(
        "--tag_set", default=None, help="MetaGraphDef to convert (default: the only one, else 'serve')"
    )
    parser.add_argument(
        "--signature_def", default=None, help="comma-separated signatures to keep (default: all)"
    )
    parser.add_argument("--freeze", action="store_true", help="fold variables into constants")
    parser.add_argument(
        "--plain_inputs",
        action="store_true",
        help="turn signatures over serialized tf.Examples (classify, regress, predict) into predict "
        "signatures over the parsed features: a dense feature f is input f, a sparse one "
        "f_indices, f_values, f_dense_shape",
    )
    parser.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="print progress to stderr (the default on a terminal; never with --json)",
    )
    parser.add_argument(
        "--rename_signature", action="append", default=[], metavar="OLD:NEW", help="rename a signature"
    )
    parser.add_argument(
        "--remove_signature", action="append", default=[], metavar="KEY", help="drop a signature"
    )
    parser.add_argument(
        "--set_default", default=None, metavar="KEY", help="make KEY the serving_default signature"
    )
    parser.add_argument(
        "--method_name",
        action="append",
        default=[],
        metavar="KEY:METHOD",
        help="set a signature's method name (predict, classify, regress or a full name)",
    )
    parser.add_argument(
        "--add_signature",
        action="append",
        default=[],
        metavar="SPEC",
        help="add a signature over tensors of the graph: 'KEY:in=tensor:0,...->out=tensor:0,...[@method]' "
        "(method predict, classify, regress or a full name; default predict), or @spec.json holding "
        '{"KEY": {"inputs": {...}, "outputs": {...}, "method_name": "predict"}}',
    )
    parser.add_argument(
        "--b64",
        action="append",
        default=[],
        metavar="KEY:NAME",
        help="give string input or output NAME of signature KEY the alias NAME_bytes, so TF Serving's "
        'REST API (and clients keyed on _bytes) carry it as {"b64": ...}',
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    parser.add_argument(
        "--dry-run", "--dry_run", dest="dry_run", action="store_true", help="report only; write nothing"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)
    _add_export_weights(subparsers)
    _add_import_weights(subparsers)
    return parser


def _edits(args: argparse.Namespace) -> bool:
    return bool(
        args.rename_signature
        or args.remove_signature
        or args.set_default
        or args.method_name
        or args.add_signature
        or args.b64
    )


def _print(report: Report, as_json: bool) -> None:
    if as_json:
        json.dump(report.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(report.render())


def _progress(args: argparse.Namespace) -> Callable[[str], None] | None:
    """A progress printer (stderr, with the elapsed time) on a terminal or with --verbose;
    never with --json."""
    if args.json or not (args.verbose or sys.stderr.isatty()):
        return None
    start = time.monotonic()

    def show(message: str) -> None:
        sys.stderr.write(f"[{time.monotonic() - start:6.1f}s] {message}\n")
        sys.stderr.flush()

    return show


def run(args: argparse.Namespace) -> int:
    return TARGETS[args.to](args)


def run_keras3(args: argparse.Namespace) -> int:
    if _edits(args) or args.freeze or args.signature_def or args.tag_set:
        raise InvalidInputError("--to keras3 takes only --output, --overwrite, --dry-run and --json")
    output = args.output or args.output_dir
    if not args.dry_run and not output:
        raise InvalidInputError("--output is required (or pass --dry-run)")
    from savedmodel.convert.keras3 import plan, to_keras3

    if args.dry_run:
        report = plan(args.dir, output)
        _print(report, args.json)
        return 0 if report.ok else 1
    _print(to_keras3(args.dir, output, overwrite=args.overwrite), args.json)
    return 0


def run_tf2(args: argparse.Namespace) -> int:
    if not args.dry_run and not args.output_dir:
        raise InvalidInputError("--output_dir is required (or pass --dry-run)")
    tags = parse_tags(args.tag_set) if args.tag_set else None
    if _edits(args):
        if args.freeze or args.signature_def or args.plain_inputs:
            raise InvalidInputError(
                "signature edits (--add_signature, --rename_signature, --remove_signature, "
                "--set_default, --method_name, --b64) do not combine with --freeze, --plain_inputs "
                "or --signature_def; run them separately"
            )
        from savedmodel.convert.signatures import (
            edit_signatures,
            parse_b64,
            parse_pairs,
            parse_signature_spec,
        )

        added = {}
        for spec in args.add_signature:
            for key, value in parse_signature_spec(spec).items():
                if key in added:
                    raise InvalidInputError(f"--add_signature: {key!r} given twice")
                added[key] = value

        report = edit_signatures(
            args.dir,
            args.output_dir,
            tag_set=tags,
            rename=parse_pairs(args.rename_signature, "--rename_signature"),
            remove=args.remove_signature,
            set_default=args.set_default,
            method_names=parse_pairs(args.method_name, "--method_name"),
            overwrite=args.overwrite,
            dry_run=args.dry_run,
            add=added,
            b64=parse_b64(args.b64),
        )
        _print(report, args.json)
        return 0
    from savedmodel.convert.tf1 import plan, tf1_to_tf2

    keys = [k.strip() for k in args.signature_def.split(",") if k.strip()] if args.signature_def else None
    options = {"freeze": args.freeze, "plain_inputs": args.plain_inputs, "progress": _progress(args)}
    if args.dry_run:
        report = plan(args.dir, tags, keys, **options)
        report.output = args.output_dir
        _print(report, args.json)
        return 0 if report.ok else 1
    report = tf1_to_tf2(args.dir, args.output_dir, tags, keys, overwrite=args.overwrite, **options)
    _print(report, args.json)
    return 0


def run_onnx(args: argparse.Namespace) -> int:
    """`--to onnx`: write the signature's ONNX model, or print why it cannot be exported."""
    if not args.dry_run and not args.output:
        raise InvalidInputError("--output is required with --to onnx (or pass --dry-run)")
    from savedmodel.backends.onnx import require

    require()
    from savedmodel.backends.onnx.export import export_onnx

    tags = parse_tags(args.tag_set) if args.tag_set else None
    report, _ = export_onnx(
        args.dir, args.output, args.signature_def, tags, dry_run=args.dry_run, overwrite=args.overwrite
    )
    _print(report, args.json)
    return 0 if report.ok else 1


TARGETS = {"tf2": run_tf2, "keras3": run_keras3, "onnx": run_onnx}  # --to NAME -> the command that writes it

# ------------------------------------------------------------------------------ export-weights


def _add_export_weights(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export-weights",
        help=help_of("export-weights"),
        description="Write the variables of a SavedModel (or checkpoint prefix) to an .npz file, "
        "named as TensorFlow names them, dtypes kept (bfloat16 and other ml_dtypes types as their "
        "bits, with the true dtype recorded; savedmodel.convert.weights.load_npz restores them).",
    )
    parser.add_argument("--dir", required=True, help="SavedModel directory or checkpoint prefix")
    parser.add_argument("--output", required=True, help="the .npz (or .safetensors) file to write")
    parser.add_argument(
        "--format",
        default="npz",
        choices=["npz", "safetensors"],
        help="npz (default), or safetensors (needs the safetensors package: savedmodel[safetensors])",
    )
    _add_common_weights_options(parser, "written")
    parser.set_defaults(func=run_export_weights)


def _add_common_weights_options(parser: argparse.ArgumentParser, what: str) -> None:
    """--names, --overwrite and --json of export-weights and import-weights."""
    parser.add_argument(
        "--names",
        default="tf",
        choices=["tf", "keys"],
        help="tf: variable names (dense/kernel); keys: raw checkpoint keys",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--json", action="store_true", help=f"print what was {what} as JSON")


def run_export_weights(args: argparse.Namespace) -> int:
    from savedmodel.convert.weights import export_weights

    written = export_weights(
        args.dir, args.output, names=args.names, overwrite=args.overwrite, fmt=args.format
    )
    if args.json:
        json.dump({"output": args.output, "variables": written}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        for item in written:
            shape = "[" + ", ".join(str(d) for d in item["shape"]) + "]"
            sys.stdout.write(f"{item['name']}  {item['dtype']}  {shape}\n")
        sys.stdout.write(f"wrote {len(written)} variables to {args.output}\n")
    return 0


# ------------------------------------------------------------------------------ import-weights


def _add_import_weights(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "import-weights",
        help=help_of("import-weights"),
        description="Replace variable values from an .npz (as export-weights writes it) or .safetensors "
        "file keyed by the same names. Names, dtypes (bfloat16 included) and shapes are checked; "
        "variables the file lacks keep their values. With --output_dir every file but the variables "
        "bundle and fingerprint.pb is copied byte for byte; --checkpoint writes the bundle alone.",
    )
    parser.add_argument("--dir", required=True, help="SavedModel directory or checkpoint prefix")
    parser.add_argument("--weights", required=True, help="the .npz or .safetensors file to read")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--output_dir", help="write a SavedModel directory")
    target.add_argument("--checkpoint", metavar="PREFIX", help="write a checkpoint (PREFIX.index, ...)")
    parser.add_argument("--strict", action="store_true", help="every variable must be in the file")
    _add_common_weights_options(parser, "replaced")
    parser.set_defaults(func=run_import_weights)


def run_import_weights(args: argparse.Namespace) -> int:
    from savedmodel.convert.weights import import_weights

    done = import_weights(
        args.dir,
        args.weights,
        output_dir=args.output_dir,
        checkpoint=args.checkpoint,
        names=args.names,
        overwrite=args.overwrite,
        strict=args.strict,
    )
    target = args.output_dir or args.checkpoint
    if args.json:
        json.dump({"output": target, **done}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(f"replaced {len(done['replaced'])} variables, kept {len(done['kept'])}: {target}\n")
        if done["kept"]:
            sys.stdout.write("kept (not in the file): " + ", ".join(done["kept"]) + "\n")
    return 0
