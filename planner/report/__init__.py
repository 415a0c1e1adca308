"""Renderers of evaluations and recommendations: terminal table, JSON/YAML, SARIF, JUnit, Markdown and HTML.

Pure: they import only ``planner.domain``, ``planner.engine`` and ``planner.optimizer``.
"""
