"""spaCy components for structured sequence labelling with a linear-chain CRF.

Importing this package is cheap: torch, transformers and numba are imported
only when a component or kernel that needs them is used.
"""
__version__ = "0.1.0"

__all__ = ["__version__"]
