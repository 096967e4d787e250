"""The package version, at the bottom of the import order so generated files can name it."""

__version__ = "0.2.0"
