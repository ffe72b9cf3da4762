"""The gate as JUnit XML: one testcase per gated metric, a <failure> for each that regressed, a
<skipped> one for each metric of a task the run did not run."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from harness.results.gate import GateResult


def render_junit(result: GateResult) -> str:
    failures = sum(not v.passed for v in result.verdicts)
    tests = str(len(result.verdicts) + len(result.not_run))
    suites = ET.Element("testsuites", name="harness gate", tests=tests, failures=str(failures))
    suite = ET.SubElement(suites, "testsuite", name=f"gate {result.suite} ({result.role})",
                          tests=tests, failures=str(failures), errors="0", skipped=str(len(result.not_run)))
    props = ET.SubElement(suite, "properties")
    for name, value in (("run", result.run), ("baseline", result.baseline or ""), ("policy", result.policy)):
        ET.SubElement(props, "property", name=name, value=value)
    for v in result.verdicts:
        case = ET.SubElement(suite, "testcase", classname=f"gate.{result.suite}.{result.role}", name=v.metric, time="0")
        if v.passed:
            ET.SubElement(case, "system-out").text = v.reason
        else:
            ET.SubElement(case, "failure", message=v.reason, type="regression").text = v.reason
    for metric in result.not_run:  # a metric of a task this run did not run: not gated
        case = ET.SubElement(suite, "testcase", classname=f"gate.{result.suite}.{result.role}", name=metric, time="0")
        ET.SubElement(case, "skipped", message="its task was not run (--task); not gated")
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
