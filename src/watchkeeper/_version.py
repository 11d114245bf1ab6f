"""The package version, read by hatchling and re-exported as ``watchkeeper.__version__``."""

__version__ = "0.1.0"
