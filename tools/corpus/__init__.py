"""Model corpus: TensorFlow-generated SavedModels with golden outputs (see README.md)."""
