"""The managed-file-transfer appliance: runtime, configuration and high availability."""

__version__ = "0.1.0"
