"""Run a Python Vault backend plugin: go-plugin's handshake and services, Vault's backend
protocol, and plain Python objects for the engine. Knows nothing about any cloud."""

from .server import serve

__all__ = ["serve"]
