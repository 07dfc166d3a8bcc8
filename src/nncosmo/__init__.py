"""nncosmo: the neural-network / de Sitter duality of arXiv:2202.11104, rebuilt."""

__version__ = "0.1.0"
