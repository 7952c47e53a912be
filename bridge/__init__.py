"""partner-bridge: everything that knows a CRM exists, and nothing about policy."""

__version__ = "0.1.0"
