"""partner-bridge sync policy: when and what to mirror. Imports ``bridge``, never the reverse."""
