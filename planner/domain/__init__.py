"""Pure data model: Kubernetes inputs, planner documents, traffic profiles. No I/O, no web or database imports."""
