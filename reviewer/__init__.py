"""reviewer: label, audit and measure alignment-faking scratchpad reasoning."""

__version__ = "0.1.0"
