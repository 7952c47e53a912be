"""mapping.yaml: load, validate, resolve and compile the admin's one file.

Public API, each from the module that defines it (this package imports nothing, so
the pure planner can use :mod:`bridge.mapping.compiled` without YAML or pydantic)::

    spec = validate.load_mapping("mapping.yaml")  # offline; raises errors.MappingInvalid
    report = resolve.resolve(spec, {"agency": crm, "alfa": crm2})
    report.compiled                               # compiled.CompiledMapping, or None
    report.problems, report.warnings              # errors.MappingProblem tuples
    watcher = watch.MappingWatcher(path, crms_for)  # reload keeping the last good version
"""
