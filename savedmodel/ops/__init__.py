"""NumPy kernels for TensorFlow ops, one module per op family, registered by op name."""

from savedmodel.ops.registry import all_kernels, kernel, kernel_factory, lookup

__all__ = ["all_kernels", "kernel", "kernel_factory", "lookup"]
