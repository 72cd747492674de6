"""Graph and function model: tensor/input names, output layouts, GraphModel and instantiated FunctionBody."""

from savedmodel.graph.model import FunctionBody, FunctionLibrary, GraphModel, Node, instantiate
from savedmodel.graph.names import parse_function_input, parse_input, parse_tensor_name

__all__ = [
    "FunctionBody",
    "FunctionLibrary",
    "GraphModel",
    "Node",
    "instantiate",
    "parse_function_input",
    "parse_input",
    "parse_tensor_name",
]
