"""JUnit XML: one test case per Service and requirement (a Service without requirements gets one ``verdict``
case), failures carrying the failing numbers; findings go to the suite's system-out."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from planner.report.model import Report


def render_junit(report: Report) -> str:
    root = ET.Element("testsuites", name="traffic-planner")
    total = failures = 0
    for service in report.services:
        ev = service.evaluation
        suite = ET.SubElement(root, "testsuite", name=service.title)
        classname = service.title.replace("/", ".")
        suite_failures = 0
        failed_texts = iter(ev.failures)
        cases = 0
        for check in ev.checks:
            case = ET.SubElement(suite, "testcase", classname=classname, name=check.requirement)
            cases += 1
            if not check.passed:
                suite_failures += 1
                text = next(failed_texts, "")
                failure = ET.SubElement(
                    case, "failure", message=text or f"{check.requirement} failed", type="requirement"
                )
                failure.text = f"actual: {check.actual}\nlimit: {check.limit}\n{text}"
        if not ev.checks:
            ET.SubElement(suite, "testcase", classname=classname, name="verdict")
            cases += 1
        out = ET.SubElement(suite, "system-out")
        lines = [ev.summary]
        lines += [f"{f.id} {f.severity} {f.name}: {f.message}" for f in ev.findings]
        out.text = "\n".join(lines)
        suite.set("tests", str(cases))
        suite.set("failures", str(suite_failures))
        suite.set("errors", "0")
        total += cases
        failures += suite_failures
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


__all__ = ["render_junit"]
