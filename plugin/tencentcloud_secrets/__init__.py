"""Vault secrets engine for Tencent Cloud: CAM sub-user keys and STS temporary credentials."""

__version__ = "0.1.0"

# Vault's catalog needs a v-prefixed semantic version, or mounts cannot find the entry.
PLUGIN_VERSION = "v" + __version__
