"""The engine's endpoints, one module per family of paths."""
