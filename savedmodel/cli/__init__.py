"""The `savedmodel` command line."""
