"""`savedmodel run`: run one SignatureDef on inputs given on the command line (saved_model_cli run).

Output matches `saved_model_cli run`: for each output key, in sorted order,
`Result for output key <key>:` and then the value as NumPy prints it (`str`);
with `--outdir`, each output is also saved to `<outdir>/<key>.npy` and
`Output <key> is saved to <path>` is printed. Existing files are refused
without `--overwrite` (checked for every output before anything is written).

Differences from TensorFlow, all on the side of safety:
* `--input_exprs` never calls `eval`; see savedmodel.cli.inputs for what it accepts
  (TF 2.21 accepts Python literals only; we also accept NumPy constructors).
* pickle files in `--inputs` need `--allow_pickle`.
* models that read or write files need `--allow_file_access`.
* string outputs are saved as fixed-width bytes arrays (`np.load` reads them
  without `allow_pickle`) unless that would lose trailing NUL bytes.
* `--tf_debug` (tfdbg) is refused.

`--max_while_iterations N` / `--max_function_depth N` change the runtime's limits (defaults:
50,000 iterations per loop, 100 nested function calls) and `--max_call_seconds S` the wall-clock
limit of the call (default 30 s; 0: none), so a model whose loop never ends fails fast with a
clear error instead of running for a minute.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

from savedmodel import backends
from savedmodel.cli import inputs as cli_inputs
from savedmodel.cli.commands import help_of
from savedmodel.cli.graph import add_source_arguments
from savedmodel.errors import InvalidInputError, NotFoundError, PolicyError
from savedmodel.format import dtypes
from savedmodel.format import saved_model as saved_model_format
from savedmodel.format.atomic import atomic_write_bytes
from savedmodel.graph import feeds as feed_rules
from savedmodel.policy import DEFAULT_LIMITS, Policy
from savedmodel.proto import meta_graph_pb2

EXAMPLES = """\
examples:
  savedmodel run --dir /tmp/model --tag_set serve --signature_def serving_default \\
      --input_exprs 'x=np.ones((2, 3), dtype=np.float32)'
  savedmodel run --dir /tmp/model --tag_set serve --signature_def serving_default \\
      --inputs 'x=/tmp/in.npz[x];y=/tmp/y.npy' --outdir /tmp/out
  savedmodel run --dir /tmp/model --tag_set serve --signature_def classify \\
      --input_examples 'inputs=[{"age": [31.0], "city": ["Paris"]}]'
  savedmodel run --graph frozen.pb --input_exprs 'x:0=[[1.0, 2.0]];keep_prob=1.0' --outputs y:0

--input_exprs accepts Python literals, + - * / ** on numbers, and NumPy
constructors (np.ones, np.zeros, np.full, np.arange, np.linspace, np.eye,
np.identity, np.array, np.asarray, np.*_like, np.float32(...) and the other
dtype constructors, np.random.rand/randn/random/randint/uniform/normal drawn
from a generator seeded with 0, .reshape, .astype, .T). Nothing is eval'd.
"""


# The wall-clock limit of one `savedmodel run` call (the API sets none by default).
CLI_CALL_SECONDS = 30.0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "run",
        help=help_of("run"),
        description="Run a SignatureDef of a SavedModel and print (or save) every output.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source_arguments(parser)
    parser.add_argument(
        "--tag_set", help="comma-separated tags of the MetaGraphDef, e.g. serve (required with --dir)"
    )
    parser.add_argument("--signature_def", help="key of the SignatureDef to run (required with --dir)")
    parser.add_argument(
        "--outputs",
        default=None,
        help="with --graph: tensor names to fetch, separated by ',' (default: the graph's sinks)",
    )
    parser.add_argument(
        "--init_op",
        default=None,
        help="with --graph: ops to run once before fetching, separated by ',' (e.g. init)",
    )
    parser.add_argument(
        "--inputs",
        default="",
        help="'<key>=<file>' or '<key>=<file>[<name>]' separated by ';' "
        "(.npy, .npz; pickle needs --allow_pickle)",
    )
    parser.add_argument(
        "--input_exprs",
        default="",
        help="'<key>=<expression>' separated by ';' (literals and np.* constructors)",
    )
    parser.add_argument(
        "--input_examples",
        default="",
        help="'<key>=[{\"feature\": [values], ...}, ...]' separated by ';' (fed as serialized tf.Examples)",
    )
    parser.add_argument("--outdir", default=None, help="also save each output to <outdir>/<key>.npy")
    parser.add_argument("--overwrite", action="store_true", help="replace existing files in --outdir")
    parser.add_argument("--tf_debug", action="store_true", help="not supported (tfdbg needs TensorFlow)")
    parser.add_argument(
        "--allow_file_access", action="store_true", help="let the model run ops that read or write files"
    )
    parser.add_argument(
        "--allow_pickle", action="store_true", help="let --inputs load pickle files (runs code)"
    )
    parser.add_argument(
        "--max_while_iterations",
        type=_positive_int,
        default=None,
        metavar="N",
        help=f"stop a while loop after N iterations (default {DEFAULT_LIMITS.max_while_iterations:,})",
    )
    parser.add_argument(
        "--max_function_depth",
        type=_positive_int,
        default=None,
        metavar="N",
        help=f"refuse function calls nested deeper than N (default {DEFAULT_LIMITS.max_function_depth})",
    )
    parser.add_argument(
        "--max_call_seconds",
        type=_seconds,
        default=CLI_CALL_SECONDS,
        metavar="S",
        help=f"stop the call after S seconds (default {CLI_CALL_SECONDS:g}; 0: no limit)",
    )
    backends.add_argument(parser)
    parser.set_defaults(func=run_command)
    return parser


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def policy_from_args(args: argparse.Namespace) -> Policy:
    """The safety policy for this run: file access and any lowered limits from the flags."""
    overrides: dict[str, Any] = {
        name: value
        for name in ("max_while_iterations", "max_function_depth")
        if (value := getattr(args, name, None)) is not None
    }
    seconds = getattr(args, "max_call_seconds", CLI_CALL_SECONDS)
    overrides["max_call_seconds"] = seconds if seconds else None
    limits = dataclasses.replace(DEFAULT_LIMITS, **overrides)
    return Policy(allow_file_access=bool(getattr(args, "allow_file_access", False)), limits=limits)


def _warn(message: str) -> None:
    print(f"savedmodel run: warning: {message}", file=sys.stderr)


def parse_tags(tag_set: str) -> list[str]:
    tags = [tag.strip() for tag in tag_set.split(",") if tag.strip()]
    if not tags:
        raise InvalidInputError(f"--tag_set {tag_set!r} names no tag")
    return tags


def find_signature(meta_graph: meta_graph_pb2.MetaGraphDef, key: str) -> meta_graph_pb2.SignatureDef:
    if key not in meta_graph.signature_def:
        choices = ", ".join(f'"{k}"' for k in sorted(meta_graph.signature_def)) or "(none)"
        raise NotFoundError(f'Could not find signature "{key}". Please choose from: {choices}')
    return meta_graph.signature_def[key]


def _has_default(meta_graph: meta_graph_pb2.MetaGraphDef, tensor_name: str) -> bool:
    node_name = tensor_name.split(":")[0]
    return any(
        node.name == node_name and node.op == "PlaceholderWithDefault" for node in meta_graph.graph_def.node
    )


def _spec(
    info: meta_graph_pb2.TensorInfo, meta_graph: meta_graph_pb2.MetaGraphDef | None = None
) -> tuple[int, tuple[int, ...] | None]:
    """(dtype, shape; -1 for unknown dims) a value for `info` is converted to and checked against,
    by TF's feed rules (the placeholder's dtype; an unknown shape when none is recorded or for
    legacy placeholders)."""
    if meta_graph is None:
        dtype, shape = info.dtype, feed_rules.tensor_info_shape(info)
    else:
        graph_def = meta_graph.graph_def
        nodes = feed_rules.node_map(graph_def)
        dtype, shape = feed_rules.feed_spec(info, nodes, graph_def.versions.producer)
    return dtype, None if shape is None else tuple(-1 if d is None else d for d in shape)


def describe_input(
    key: str, info: meta_graph_pb2.TensorInfo, meta_graph: meta_graph_pb2.MetaGraphDef | None = None
) -> str:
    dtype, shape = _spec(info, meta_graph)
    return f"{key} ({dtypes.dtype_name(dtype)} {cli_inputs.format_shape(shape)})"


def prepare_feeds(
    meta_graph: meta_graph_pb2.MetaGraphDef,
    signature_key: str,
    raw_feeds: Mapping[str, Any],
) -> dict[str, np.ndarray]:
    """Check the keys against the signature and convert each value to its input's dtype and shape."""
    signature = find_signature(meta_graph, signature_key)
    for key in raw_feeds:
        if key not in signature.inputs:
            choices = ", ".join(f'"{k}"' for k in sorted(signature.inputs)) or "(none)"
            raise InvalidInputError(
                f'"{key}" is not a valid input key of signature "{signature_key}". '
                f"Please choose from {choices}, or use `savedmodel show`."
            )
    missing = [
        describe_input(key, info, meta_graph)
        for key, info in sorted(signature.inputs.items())
        if key not in raw_feeds and not (info.name and _has_default(meta_graph, info.name))
    ]
    if missing:
        raise InvalidInputError(
            f'signature "{signature_key}" needs input(s) {", ".join(missing)}; '
            "give them with --inputs, --input_exprs or --input_examples"
        )
    feeds: dict[str, np.ndarray] = {}
    for key, value in raw_feeds.items():
        info = signature.inputs[key]
        if info.WhichOneof("encoding") != "name":
            raise InvalidInputError(
                f'input "{key}" of signature "{signature_key}" is a {info.WhichOneof("encoding")} tensor; '
                "savedmodel run feeds dense tensors only"
            )
        dtype, shape = _spec(info, meta_graph)
        feeds[key] = cli_inputs.coerce_feed(key, value, dtype, shape, info.name)
    return feeds


def load_model(directory: str, tags: list[str], policy: Policy, backend: str | None = None) -> Any:
    """The loaded model (savedmodel.load); tests replace this."""
    import savedmodel

    return savedmodel.load(directory, tags=tags, policy=policy, backend=backend)


def output_paths(outdir: str, keys: list[str], overwrite: bool) -> dict[str, str]:
    """`<outdir>/<key>.npy` per key; refuses keys that leave outdir and, without overwrite, existing files."""
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise InvalidInputError(f"--outdir {outdir} exists and is not a directory")
    paths: dict[str, str] = {}
    for key in keys:
        filename = f"{key}.npy"
        if os.sep in key or (os.altsep and os.altsep in key) or key in ("", ".", ".."):
            raise PolicyError(f"output key {key!r} is not a plain file name; cannot save it under {outdir}")
        path = os.path.join(outdir, filename)  # printed as TF prints it (not normalized)
        if os.path.lexists(path) and not overwrite:
            raise PolicyError(
                f'Output file {path} already exists. Add "--overwrite" to overwrite '
                "the existing output files."
            )
        paths[key] = path
    return paths


def npy_bytes(value: Any) -> bytes:
    """The .npy file of an output; string arrays become fixed-width bytes when that is lossless."""
    array = np.asarray(value)
    allow_pickle = False
    if array.dtype.hasobject:
        items = list(array.ravel())
        if all(isinstance(item, bytes) and not item.endswith(b"\0") for item in items):
            width = max((len(item) for item in items), default=1) or 1
            array = array.astype(f"S{width}")
        else:
            allow_pickle = True
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def format_result(key: str, value: Any) -> str:
    """What saved_model_cli prints for one output."""
    return f"Result for output key {key}:\n{value}"


def _check_dir_flags(args: argparse.Namespace) -> None:
    missing = [f"--{name}" for name in ("tag_set", "signature_def") if getattr(args, name) is None]
    if missing:
        raise InvalidInputError(f"the following arguments are required with --dir: {', '.join(missing)}")
    given = [f"--{name}" for name in ("outputs", "init_op") if getattr(args, name) is not None]
    if given:
        raise InvalidInputError(f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to --graph only")


def run_command(args: argparse.Namespace) -> int:
    if args.tf_debug:
        raise InvalidInputError("--tf_debug (the TensorFlow debugger) is not available in savedmodel")
    if args.graph is not None:
        from savedmodel.cli.graph import run_graph

        return run_graph(args)
    _check_dir_flags(args)
    tags = parse_tags(args.tag_set)
    saved_model = saved_model_format.read_saved_model(args.dir)
    meta_graph = saved_model_format.find_meta_graph(saved_model, tags, source=args.dir)
    signature = find_signature(meta_graph, args.signature_def)
    raw_feeds = cli_inputs.build_feed_dict(
        args.inputs, args.input_exprs, args.input_examples, allow_pickle=args.allow_pickle, warn=_warn
    )
    feeds = prepare_feeds(meta_graph, args.signature_def, raw_feeds)
    output_keys = sorted(signature.outputs)
    paths = output_paths(args.outdir, output_keys, args.overwrite) if args.outdir else {}

    backend = getattr(args, "backend", None)
    policy = policy_from_args(args)
    model = load_model(args.dir, tags, policy, backend) if backend else load_model(args.dir, tags, policy)
    results = model.signatures[args.signature_def](**feeds)
    for key in output_keys:
        if key not in results:
            raise NotFoundError(f'signature "{args.signature_def}" did not return output "{key}"')
        print(format_result(key, results[key]))
        if key in paths:
            try:
                atomic_write_bytes(paths[key], npy_bytes(results[key]), overwrite=True)
            except OSError as exc:
                raise InvalidInputError(f"cannot write {paths[key]}: {exc.strerror or exc}") from None
            print(f"Output {key} is saved to {paths[key]}")
    return 0
