"""Migration tools: TF1 -> TF2-style SavedModels, signature edits, weight export.

from savedmodel.convert import tf1_to_tf2, edit_signatures, export_weights
report = tf1_to_tf2("tf1_model", "tf2_model")       # raises ConversionError (with .report)
plan("tf1_model").blockers                           # what stands in the way, writing nothing
edit_signatures("m", "m2", method_names={"serving_default": "classify"})
export_weights("m", "weights.npz")                   # load_npz("weights.npz") -> {name: array}
import_weights("m", "weights.npz", output_dir="m2")  # the variables replaced, nothing else
tf1_to_tf2("estimator_export", "m", plain_inputs=True)  # tf.Example signatures -> features
"""

from __future__ import annotations

from savedmodel.convert.report import ConversionError, Report
from savedmodel.convert.signatures import edit_signatures
from savedmodel.convert.tf1 import plan, tf1_to_tf2
from savedmodel.convert.weights import export_weights, import_weights, load_npz

__all__ = [
    "ConversionError",
    "Report",
    "edit_signatures",
    "export_weights",
    "import_weights",
    "load_npz",
    "plan",
    "tf1_to_tf2",
]
