"""The harness's own version (a leaf, so stores and rows can record it without importing the package root)."""

__version__ = "0.1.0"
