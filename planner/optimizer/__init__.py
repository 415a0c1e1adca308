"""CP-SAT placement optimizer. Imports ``planner.domain`` and ``planner.engine``; never the web or database layer."""
