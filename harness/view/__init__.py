"""`harness view`: runs, comparisons, training directories, sweeps and lab reports in a browser.

    discover   which folders under the given ones are runs, training dirs, sweeps, lab reports
    run_data   a run's samples as rows (base and checkpoint side by side, verdicts, filters, pages)
    html       escaping, the page shell (CSS, the one script, its CSP hash), SVG line charts
    pages      one render function per page, each returning a whole HTML document
    server     the read-only FastAPI app over those pages
    trackers   a finished run's metrics and samples table to MLflow, W&B, TensorBoard

The view reads the core's typed records (harness.records, rundir, results, lab) and imports
nothing else of the project; the use case (harness/app/view.py) starts the server or writes an export.
"""
