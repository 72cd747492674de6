"""`--plain_inputs`: a tf.Example signature turned into one over the parsed feature tensors.

A classify, regress or predict signature of a TF1 model (an Estimator export, typically) takes
serialized tf.Example protos that a ParseExample/ParseExampleV2 node parses. Rewriting the
graph before conversion, each output of that node becomes a Placeholder of its own and the
signature's serialized input is replaced by them:
- a dense feature `f` is the input `f` (the parse op's dtype, shape `[batch] + dense_shape`);
- a sparse feature `f` is three inputs, `f_indices` (int64 [n, 2]), `f_values` ([n]) and
  `f_dense_shape` (int64 [2]), the parts of the SparseTensor the parse op gives.
Where the graph also takes the batch size from the serialized tensor (`Shape` or `Size` of it,
as Estimator heads do to tile class names), that is computed from the first feature instead.
The signature's method name becomes predict (TF Serving's classify and regress APIs want
serialized examples). Dense defaults do not carry over: a plain input is always fed, with what
parsing an example that lacks the feature gives (the default), which the report lists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from savedmodel.convert.report import Report
from savedmodel.format import tensor as tensor_format
from savedmodel.graph.names import parse_input
from savedmodel.proto import attr_value_pb2, meta_graph_pb2, node_def_pb2, types_pb2

PARSE_OPS = frozenset({"ParseExample", "ParseExampleV2"})
PREDICT = "tensorflow/serving/predict"
_PASS_THROUGH = frozenset({"Identity", "Snapshot"})
_BATCH_OPS = frozenset({"Shape", "Size"})
DT_INT64 = types_pb2.DT_INT64


@dataclass(frozen=True)
class PlainInput:
    """One plain input: its signature key, the parse op output it stands for, dtype and shape."""

    key: str
    output: int
    dtype: int
    shape: tuple[int, ...]


def _tensor(text: str) -> str:
    ref = parse_input(text)
    return f"{ref.node}:{ref.index}"


def _const_keys(nodes: dict[str, node_def_pb2.NodeDef], texts: list[str]) -> list[str] | None:
    out: list[str] = []
    for text in texts:
        node = nodes.get(parse_input(text).node)
        if node is None or node.op != "Const":
            return None
        values = tensor_format.to_numpy(node.attr["value"].tensor).reshape(-1)
        out.extend(v.decode() if isinstance(v, bytes) else str(v) for v in values)
    return out


def parse_op_inputs(
    node: node_def_pb2.NodeDef, nodes: dict[str, node_def_pb2.NodeDef], batch_rank: int
) -> tuple[list[PlainInput], list[str]] | str:
    """The plain inputs a parse node's outputs become, and its dense default tensors; or why not."""
    data = [t for t in node.input if not t.startswith("^")]
    attrs = node.attr
    sparse_types = list(attrs["sparse_types"].list.type)
    dense_types = list(attrs["Tdense"].list.type)
    shapes = [tensor_format.shape_from_proto(s) for s in attrs["dense_shapes"].list.shape]
    if node.op == "ParseExample":
        n_sparse, n_dense = int(attrs["Nsparse"].i), int(attrs["Ndense"].i)
        sparse_keys = _const_keys(nodes, data[2 : 2 + n_sparse])
        dense_keys = _const_keys(nodes, data[2 + n_sparse : 2 + n_sparse + n_dense])
        defaults = data[2 + n_sparse + n_dense :]
    else:
        if len(attrs["ragged_value_types"].list.type):
            return "it parses ragged features"
        n_sparse, n_dense = int(attrs["num_sparse"].i), len(dense_types)
        sparse_keys, dense_keys = _const_keys(nodes, data[2:3]), _const_keys(nodes, data[3:4])
        defaults = data[5 : 5 + n_dense]
    if sparse_keys is None or dense_keys is None:
        return "its feature keys are not constants"
    if len(sparse_keys) != n_sparse or len(dense_keys) != n_dense:
        return "its feature keys do not match its attributes"
    batch = (-1,) * batch_rank
    out: list[PlainInput] = []
    for i, (key, dtype) in enumerate(zip(sparse_keys, sparse_types, strict=True)):
        out.append(PlainInput(f"{key}_indices", i, DT_INT64, (-1, batch_rank + 1)))
        out.append(PlainInput(f"{key}_values", n_sparse + i, dtype, (-1,)))
        out.append(PlainInput(f"{key}_dense_shape", 2 * n_sparse + i, DT_INT64, (batch_rank + 1,)))
    for i, (key, dtype, shape) in enumerate(zip(dense_keys, dense_types, shapes, strict=True)):
        out.append(PlainInput(key, 3 * n_sparse + i, dtype, batch + tuple(shape or ())))
    return out, defaults


class PlainInputs:
    """Rewrites a MetaGraphDef's graph and signatures in place (see the module docstring)."""

    def __init__(self, meta: meta_graph_pb2.MetaGraphDef, report: Report) -> None:
        self.meta = meta
        self.graph = meta.graph_def
        self.report = report
        self.nodes = {n.name: n for n in self.graph.node}
        self.consumers: dict[str, list[node_def_pb2.NodeDef]] = {}
        for node in self.graph.node:
            for text in node.input:
                if not text.startswith("^"):
                    self.consumers.setdefault(_tensor(text), []).append(node)
        self.done: dict[str, dict[str, str]] = {}  # parse node -> {plain key: tensor}
        self.replaced: dict[str, dict[str, str]] = {}  # serialized tensor -> {plain key: tensor}

    def rewrite(self, keys: list[str]) -> None:
        for key in keys:
            self._signature(key)

    def _signature(self, key: str) -> None:
        sig = self.meta.signature_def[key]
        changed = False
        for name in sorted(sig.inputs):
            info = sig.inputs[name]
            if info.dtype != types_pb2.DT_STRING or info.WhichOneof("encoding") != "name":
                continue
            plain = self._serialized_input(key, name, _tensor(info.name))
            if plain is None:
                continue
            clash = sorted(set(plain) & (set(sig.inputs) - {name}))
            if clash:
                self.report.block(f"signature {key!r}: plain input {clash[0]!r} clashes with an input")
                continue
            del sig.inputs[name]
            unused = self._unused(sig, plain)
            if unused:
                self.report.changes.append(
                    f"signature {key!r}: features its outputs do not use left out: " + ", ".join(unused)
                )
            for plain_key, tensor in plain.items():
                if plain_key in unused:
                    continue
                node = self.nodes[parse_input(tensor).node]
                sig.inputs[plain_key].name = tensor
                sig.inputs[plain_key].dtype = node.attr["dtype"].type
                sig.inputs[plain_key].tensor_shape.CopyFrom(node.attr["shape"].shape)
            self.report.changes.append(
                f"signature {key!r}: serialized tf.Example input {name!r} -> plain inputs "
                + ", ".join(sorted(set(plain) - set(unused)))
            )
            changed = True
        if not changed:
            self.report.warn(f"signature {key!r} parses no tf.Example input; --plain_inputs leaves it")
        elif sig.method_name != PREDICT:
            self.report.changes.append(f"signature {key!r}: method name {sig.method_name!r} -> predict")
            sig.method_name = PREDICT

    def _unused(self, sig: meta_graph_pb2.SignatureDef, plain: dict[str, str]) -> list[str]:
        """Plain inputs the signature's outputs do not depend on (a parse op often reads the
        features of several signatures)."""
        seen: set[str] = set()
        stack = [parse_input(info.name).node for info in sig.outputs.values()]
        while stack:
            name = stack.pop()
            if name in seen or name not in self.nodes:
                continue
            seen.add(name)
            stack.extend(parse_input(text).node for text in self.nodes[name].input)
        return sorted(k for k, tensor in plain.items() if parse_input(tensor).node not in seen)

    def _serialized_input(self, key: str, name: str, tensor: str) -> dict[str, str] | None:
        """Plain input key -> placeholder tensor replacing serialized input `tensor`, or None
        when no parse op reads it."""
        if tensor in self.replaced:  # another signature shares this input
            return self.replaced[tensor]
        readers, batch_users, others = self._uses(tensor)
        if not readers:
            return None
        if others:
            node = others[0]
            self.report.block(
                f"signature {key!r}: --plain_inputs cannot drop {name!r}: {node.name!r} ({node.op}) "
                "uses the serialized examples too"
            )
            return None
        rank = self._rank(tensor)
        plain: dict[str, str] = {}
        for parse in readers:
            made = self._replace_parse(key, parse, rank)
            if made is None:
                return None
            plain.update(made)
        if batch_users:
            if rank != 1 or not plain:
                self.report.block(f"signature {key!r}: the batch size of {name!r} cannot be recomputed")
                return None
            first = min(plain)  # sorted: deterministic
            for node in batch_users:
                self._batch_from(node, plain[first], first.endswith("_dense_shape"))
        self.replaced[tensor] = plain
        return plain

    def _uses(
        self, tensor: str
    ) -> tuple[list[node_def_pb2.NodeDef], list[node_def_pb2.NodeDef], list[node_def_pb2.NodeDef]]:
        """Parse ops reading `tensor` (through identities), Shape/Size of it, and anything else."""
        readers, batch, others = [], [], []
        stack, seen = [tensor], set()
        while stack:
            current = stack.pop()
            for node in self.consumers.get(current, []):
                if node.name in seen:
                    continue
                seen.add(node.name)
                first = _tensor(next(t for t in node.input if not t.startswith("^")))
                if node.op in PARSE_OPS and first == current:
                    readers.append(node)
                elif node.op in _PASS_THROUGH:
                    stack.append(f"{node.name}:0")
                elif node.op in _BATCH_OPS:
                    batch.append(node)
                else:
                    others.append(node)
        return readers, batch, others

    def _rank(self, tensor: str) -> int:
        node = self.nodes.get(parse_input(tensor).node)
        if node is not None and "shape" in node.attr and not node.attr["shape"].shape.unknown_rank:
            return len(node.attr["shape"].shape.dim)
        return 1

    def _replace_parse(self, key: str, parse: node_def_pb2.NodeDef, rank: int) -> dict[str, str] | None:
        if parse.name in self.done:
            return self.done[parse.name]
        found = parse_op_inputs(parse, self.nodes, rank)
        if isinstance(found, str):
            self.report.block(f"signature {key!r}: --plain_inputs cannot replace {parse.name!r}: {found}")
            return None
        inputs, defaults = found
        made: dict[str, str] = {}
        for item in inputs:
            node = self._add(
                f"plain_inputs/{item.key}",
                "Placeholder",
                [],
                dtype=attr_value_pb2.AttrValue(type=item.dtype),
                shape=attr_value_pb2.AttrValue(shape=tensor_format.shape_to_proto(item.shape)),
            )
            made[item.key] = f"{node.name}:0"
            self._rewire(f"{parse.name}:{item.output}", f"{node.name}:0")
        self._report_defaults(inputs, defaults)
        self.done[parse.name] = made
        return made

    def _report_defaults(self, inputs: list[PlainInput], defaults: list[str]) -> None:
        from savedmodel.errors import SavedModelError
        from savedmodel.runtime.session import GraphSession

        dense = [i for i in inputs if not i.key.endswith(("_indices", "_values", "_dense_shape"))]
        if not defaults or not dense:
            return
        try:
            session = GraphSession(self.graph, op_list=self.meta.meta_info_def.stripped_op_list)
            values = session.run([_tensor(d) for d in defaults])
        except SavedModelError:
            return
        for item, value in zip(dense, values, strict=False):
            value = np.asarray(value)
            if value.size:
                self.report.changes.append(
                    f"plain input {item.key!r}: a tf.Example without it parsed as {value.tolist()!r}; "
                    "feed that value where the feature is missing"
                )

    def _rewire(self, old: str, new: str) -> None:
        for node in self.consumers.get(old, []):
            for i, text in enumerate(node.input):
                if not text.startswith("^") and _tensor(text) == old:
                    node.input[i] = new

    def _add(
        self, base: str, op: str, inputs: list[str], **attrs: attr_value_pb2.AttrValue
    ) -> node_def_pb2.NodeDef:
        name, i = base, 0
        while name in self.nodes:
            i += 1
            name = f"{base}_{i}"
        node = self.graph.node.add(name=name, op=op)
        node.input.extend(inputs)
        for key, value in attrs.items():
            node.attr[key].CopyFrom(value)
        self.nodes[name] = node
        return node

    def _const(self, base: str, values: list[int]) -> str:
        tensor = tensor_format.from_numpy(np.array(values, np.int32), types_pb2.DT_INT32)
        node = self._add(
            base,
            "Const",
            [],
            dtype=attr_value_pb2.AttrValue(type=types_pb2.DT_INT32),
            value=attr_value_pb2.AttrValue(tensor=tensor),
        )
        return f"{node.name}:0"

    def _batch_from(self, node: node_def_pb2.NodeDef, feature: str, is_dense_shape: bool) -> None:
        """Turn Shape/Size of the serialized vector into the first dimension of a feature."""
        out_type = node.attr["out_type"].type or types_pb2.DT_INT32
        if is_dense_shape:  # a sparse feature's dense_shape: [batch, width]
            source = self._add(
                f"{node.name}/plain_shape",
                "Cast",
                [feature],
                SrcT=attr_value_pb2.AttrValue(type=DT_INT64),
                DstT=attr_value_pb2.AttrValue(type=out_type),
            )
        else:
            source = self._add(
                f"{node.name}/plain_shape",
                "Shape",
                [feature],
                out_type=attr_value_pb2.AttrValue(type=out_type),
            )
            source.attr["T"].type = self.nodes[parse_input(feature).node].attr["dtype"].type
        begin = self._const(f"{node.name}/begin", [0])
        end = self._const(f"{node.name}/end", [1])
        strides = self._const(f"{node.name}/strides", [1])
        controls = [t for t in node.input if t.startswith("^")]
        shrink = 1 if node.op == "Size" else 0
        node.op = "StridedSlice"
        del node.input[:]
        node.input.extend([f"{source.name}:0", begin, end, strides, *controls])
        node.attr.clear()
        node.attr["T"].type = out_type
        node.attr["Index"].type = types_pb2.DT_INT32
        for mask in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask"):
            node.attr[mask].i = 0
        node.attr["shrink_axis_mask"].i = shrink
