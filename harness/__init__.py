"""selbench: a DataComp-style benchmark harness for CLIP data selection."""

__version__ = "0.1.0"
