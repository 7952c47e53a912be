"""mapping.yaml: load, validate, resolve and compile the admin's one file.

Public API::

    spec = load_mapping("mapping.yaml")          # offline; raises MappingInvalid(problems)
    report = resolve(spec, {"agency": crm, "alfa": crm2})
    report.compiled                               # CompiledMapping, or None
    report.problems, report.warnings              # MappingProblem tuples
    watcher = MappingWatcher(path, crms_for)      # reload keeping the last good version
"""

from bridge.mapping.errors import MappingInvalid, MappingProblem
from bridge.mapping.resolve import PartnerSummary, ResolveReport, resolve
from bridge.mapping.spec import MappingSpec
from bridge.mapping.validate import load_mapping, validate_text
from bridge.mapping.watch import MappingWatcher

__all__ = [
    "MappingInvalid",
    "MappingProblem",
    "MappingSpec",
    "MappingWatcher",
    "PartnerSummary",
    "ResolveReport",
    "load_mapping",
    "resolve",
    "validate_text",
]
