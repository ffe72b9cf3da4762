"""The gate as JUnit XML: one testcase per gated metric, a <failure> for each that regressed."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from harness.results.gate import GateResult


def render_junit(result: GateResult) -> str:
    failures = sum(not v.passed for v in result.verdicts)
    suites = ET.Element("testsuites", name="harness gate", tests=str(len(result.verdicts)), failures=str(failures))
    suite = ET.SubElement(suites, "testsuite", name=f"gate {result.suite} ({result.role})",
                          tests=str(len(result.verdicts)), failures=str(failures), errors="0", skipped="0")
    props = ET.SubElement(suite, "properties")
    for name, value in (("run", result.run), ("baseline", result.baseline or ""), ("policy", result.policy)):
        ET.SubElement(props, "property", name=name, value=value)
    for v in result.verdicts:
        case = ET.SubElement(suite, "testcase", classname=f"gate.{result.suite}.{result.role}", name=v.metric, time="0")
        if v.passed:
            ET.SubElement(case, "system-out").text = v.reason
        else:
            ET.SubElement(case, "failure", message=v.reason, type="regression").text = v.reason
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
