"""mapping.yaml: load, validate, resolve and compile the admin's one file."""
