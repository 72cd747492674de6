"""`savedmodel convert`: migrate a SavedModel, and `savedmodel export-weights`.

savedmodel convert --dir TF1_MODEL --output_dir OUT [--tag_set serve] [--signature_def a,b]
                   [--freeze] [--overwrite]
    TF1 SavedModel -> TF2-style SavedModel (savedmodel.convert.tf1_to_tf2)
savedmodel convert --dir IN --output_dir OUT --rename_signature old:new --remove_signature k
                   --set_default k --method_name k:classify
    edit signatures only; every other file is copied byte for byte
savedmodel convert ... --dry-run [--json]
    say what would change and what blocks the conversion; write nothing (exit 1 when blocked)
savedmodel convert --dir D --to onnx --output model.onnx [--signature_def K] [--dry-run] [--json]
    one signature as one ONNX model (needs savedmodel[onnx]), or the ops that block it (exit 1)
savedmodel export-weights --dir D --output weights.npz [--names tf|keys]
    every variable as a NumPy .npz (dtypes kept; see savedmodel.convert.weights)
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from savedmodel.cli.run import parse_tags
from savedmodel.errors import InvalidInputError

if TYPE_CHECKING:  # savedmodel.convert is imported by the convert command itself, not by --help
    from savedmodel.convert.report import Report


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "convert",
        help="migrate a TF1 SavedModel to a TF2-style one, or edit its signatures",
        description="Convert a TF1 SavedModel into a TF2-style SavedModel (signatures as concrete "
        "functions, resource variables tracked in the object graph, TF2 checkpoint keys), or, with "
        "the signature flags, edit its signatures and nothing else; with --to onnx, write one signature "
        "as an ONNX model (savedmodel[onnx]) or list the ops that block it.",
    )
    parser.add_argument("--dir", required=True, help="the SavedModel to read")
    parser.add_argument(
        "--to",
        choices=["tf2", "onnx"],
        default="tf2",
        help="tf2: a TF2-style SavedModel (default); onnx: an ONNX model of one signature (--output)",
    )
    parser.add_argument("--output", help="the file to write (--to onnx)")
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
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    parser.add_argument(
        "--dry-run", "--dry_run", dest="dry_run", action="store_true", help="report only; write nothing"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)
    _add_export_weights(subparsers)
    return parser


def _edits(args: argparse.Namespace) -> bool:
    return bool(args.rename_signature or args.remove_signature or args.set_default or args.method_name)


def _print(report: Report, as_json: bool) -> None:
    if as_json:
        json.dump(report.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(report.render())


def run(args: argparse.Namespace) -> int:
    if args.to == "onnx":
        return run_onnx(args)
    if not args.dry_run and not args.output_dir:
        raise InvalidInputError("--output_dir is required (or pass --dry-run)")
    tags = parse_tags(args.tag_set) if args.tag_set else None
    if _edits(args):
        if args.freeze or args.signature_def:
            raise InvalidInputError(
                "signature edits (--rename_signature, --remove_signature, --set_default, --method_name) "
                "do not combine with --freeze or --signature_def; run them separately"
            )
        from savedmodel.convert.signatures import edit_signatures, parse_pairs

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
        )
        _print(report, args.json)
        return 0
    from savedmodel.convert.tf1 import plan, tf1_to_tf2

    keys = [k.strip() for k in args.signature_def.split(",") if k.strip()] if args.signature_def else None
    if args.dry_run:
        report = plan(args.dir, tags, keys, freeze=args.freeze)
        report.output = args.output_dir
        _print(report, args.json)
        return 0 if report.ok else 1
    report = tf1_to_tf2(args.dir, args.output_dir, tags, keys, freeze=args.freeze, overwrite=args.overwrite)
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


# ------------------------------------------------------------------------------ export-weights


def _add_export_weights(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export-weights",
        help="write every variable of a SavedModel or checkpoint to a NumPy .npz",
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
    parser.add_argument(
        "--names",
        default="tf",
        choices=["tf", "keys"],
        help="tf: variable names (dense/kernel); keys: raw checkpoint keys",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.add_argument("--json", action="store_true", help="print what was written as JSON")
    parser.set_defaults(func=run_export_weights)


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
