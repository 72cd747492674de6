"""`import savedmodel.compat.v1 as tf1`: the TF1 API (Graph, Session, placeholder,
saved_model.load/Builder, train.Saver/import_meta_graph, wrap_function, ...).

This module is replaced by the namespace `savedmodel.tf.compat.v1` itself, so both
spellings give the same objects and one implementation.
"""

import sys

from savedmodel.api import tf as _tf

sys.modules[__name__] = _tf.compat.v1  # type: ignore[assignment]
