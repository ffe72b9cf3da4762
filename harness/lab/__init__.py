"""The lab: training directories, sweep plans and results, report evidence, findings and grading."""
