"""Migration tools: TF1 -> TF2-style SavedModels, signature edits, weight export.

from savedmodel.convert import tf1_to_tf2
report = tf1_to_tf2("tf1_model", "tf2_model")      # raises ConversionError with a report
"""

from __future__ import annotations

from savedmodel.convert.report import ConversionError, Report
from savedmodel.convert.tf1 import plan, tf1_to_tf2

__all__ = ["ConversionError", "Report", "plan", "tf1_to_tf2"]
