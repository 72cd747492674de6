"""`from savedmodel import tf`: the TensorFlow-shaped API (savedmodel.api.tf) under TensorFlow's name."""

import sys

from savedmodel.api import tf as _tf

sys.modules[__name__] = _tf
