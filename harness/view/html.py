"""The page shell every view page shares: escaping, CSS, the one script (allowed by its hash in
the Content-Security-Policy, so no other script can run, even one a model wrote), and SVG charts.

Every piece of text from a run (prompts, answers, reasons, judge replies, file names) goes through
`esc`; nothing is fetched from the network (no fonts, no CDN, the favicon is inline)."""

from __future__ import annotations

import base64
import hashlib
import html
import math

LONG = 600  # answers longer than this are folded (<details>)


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def fmt(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return esc(value)


def ci(interval) -> str:
    return "" if not interval or interval[0] is None else f"[{interval[0]:.3f}, {interval[1]:.3f}]"


def folded(text: str | None, cls: str = "answer") -> str:
    """Model text as a <pre>, folded behind its first lines when long."""
    text = text or ""
    if len(text) <= LONG:
        return f'<pre class="{cls}">{esc(text) if text else "<i>(empty)</i>"}</pre>'
    return (f'<pre class="{cls}">{esc(text[:LONG])}…</pre><details class="more"><summary>show all ({len(text)} characters)'
            f'</summary><pre class="{cls}">{esc(text)}</pre></details>')


CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1d2330;background:#fafbfc}
header{background:#243b55;color:#fff;padding:10px 20px}header a{color:#cfe3ff;margin-right:14px}
main{padding:14px 20px;max-width:1500px}h1{font-size:20px;margin:6px 0}h2{font-size:16px;margin:18px 0 6px}
table{border-collapse:collapse;margin:6px 0 12px;background:#fff}th,td{border:1px solid #d8dee6;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#eef2f6}td.num{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#6b7685}
.sig-good{color:#0a7d32;font-weight:600}.sig-bad{color:#b3261e;font-weight:600}
.sample{background:#fff;border:1px solid #d8dee6;border-radius:6px;margin:10px 0;padding:8px 10px}
.sample h3{font-size:14px;margin:0 0 4px}.sides{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:10px}
.side{border-top:3px solid #8fa3b8;padding-top:4px}.side.ckpt{border-top-color:#3b7dd8}
pre{white-space:pre-wrap;word-break:break-word;background:#f4f6f8;padding:6px;margin:4px 0;max-height:none;font-size:13px}
pre.prompt{background:#fff8e6}.v{display:inline-block;border-radius:3px;padding:0 5px;margin:1px 3px 1px 0;font-size:12px}
.v.pass{background:#d8f3df}.v.fail{background:#fbd9d6}.v.unscored{background:#eee;color:#555}.v.num{background:#e4ecfa}
.tag{display:inline-block;background:#fff0c2;border-radius:3px;padding:0 5px;font-size:12px;margin-left:6px}
form#filters{background:#fff;border:1px solid #d8dee6;padding:8px;border-radius:6px}form#filters label{margin-right:12px}
.pager a,.pager span{margin-right:8px}ul.reasons{margin:2px 0 4px 16px;padding:0}details.more summary,details.exchange summary{cursor:pointer;color:#2456a6}
"""

SCRIPT = """
(function () {
  "use strict";
  var form = document.getElementById("filters");
  if (!form) { return; }
  var isStatic = document.body.getAttribute("data-static") === "1";
  function words(el, name) {
    var v = el.getAttribute("data-" + name);
    return v ? v.split(" ") : [];
  }
  function value(name) {
    var el = form.elements[name];
    if (!el) { return ""; }
    return el.type === "checkbox" ? (el.checked ? "1" : "") : el.value;
  }
  function keeps(row, f) {
    function match(token) {
      var i = token.indexOf(":"), role = token.slice(0, i), scorer = token.slice(i + 1);
      return (!f.role || role === f.role) && (!f.scorer || scorer === f.scorer);
    }
    if (f.task && row.getAttribute("data-task") !== f.task) { return false; }
    var fails = words(row, "fail").some(match);
    if (f.outcome === "fail" && !fails) { return false; }
    if (f.outcome === "pass" && (fails || !words(row, "pass").some(match))) { return false; }
    if (f.unscored && !words(row, "unscored").some(match)) { return false; }
    var cut = words(row, "cut");
    if (f.cut && !(f.role ? cut.indexOf(f.role) >= 0 : cut.length > 0)) { return false; }
    var flipped = words(row, "flipped");
    if (f.flipped && !(f.scorer ? flipped.indexOf(f.scorer) >= 0 : flipped.length > 0)) { return false; }
    return !f.q || row.textContent.toLowerCase().indexOf(f.q.toLowerCase()) >= 0;
  }
  function apply() {
    var f = {task: value("task"), scorer: value("scorer"), role: value("role"), outcome: value("outcome"),
             flipped: value("flipped"), unscored: value("unscored"), cut: value("cut"), q: value("q").trim()};
    var rows = document.querySelectorAll("section.sample"), shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var keep = keeps(rows[i], f);
      rows[i].hidden = !keep;
      if (keep) { shown++; }
    }
    document.getElementById("shown").textContent = shown + " of " + rows.length + " samples";
  }
  if (isStatic) {
    form.addEventListener("submit", function (e) { e.preventDefault(); apply(); });
    form.addEventListener("change", apply);
    form.elements.q.addEventListener("input", apply);
    apply();
  } else {
    // the server filters every page of the run; a changed control asks it again, from page 1
    form.addEventListener("change", function () { if (form.elements.page) { form.elements.page.value = "1"; } form.submit(); });
  }
})();
"""

SCRIPT_HASH = base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode()
CSP = (f"default-src 'none'; script-src 'sha256-{SCRIPT_HASH}'; style-src 'unsafe-inline'; img-src data:; "
       "form-action 'self'; base-uri 'none'")


def page(title: str, body: str, *, static: bool = False, refresh_s: int | None = None, nav: bool = True) -> str:
    """A whole HTML document. `static`: an exported file (filters run in the page, no server)."""
    refresh = f'<meta http-equiv="refresh" content="{int(refresh_s)}">' if refresh_s else ""
    links = ('<header><a href="/">runs</a><span class="muted">sft-harness view</span></header>' if nav and not static
             else '<header><span>sft-harness</span></header>')
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">{refresh}'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head>"
            f'<body data-static="{1 if static else 0}">{links}<main>{body}</main><script>{SCRIPT}</script></body></html>')


COLORS = ["#3b7dd8", "#d8553b", "#2a9d57", "#9b59b6", "#c99a06", "#17a2b8", "#7f8c8d", "#e83e8c"]


def line_chart(series: dict[str, list[tuple[float, float]]], title: str, *, width: int = 640, height: int = 240,
               x_label: str = "step") -> str:
    """An SVG line chart (drawn here: no library, no network). Empty series are left out."""
    series = {k: [(float(x), float(y)) for x, y in v if y is not None and math.isfinite(float(y))] for k, v in series.items()}
    series = {k: v for k, v in series.items() if v}
    if not series:
        return f'<p class="muted">{esc(title)}: no points yet</p>'
    xs = [x for v in series.values() for x, _ in v]
    ys = [y for v in series.values() for _, y in v]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    left, right, top, bottom = 52, 12, 22, 30
    w, h = width - left - right, height - top - bottom

    def px(x, y):
        return left + (x - x0) / (x1 - x0) * w, top + (1 - (y - y0) / (y1 - y0)) * h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{esc(title)}">',
             f'<text x="{left}" y="14" font-size="13" font-weight="600">{esc(title)}</text>',
             f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="#fff" stroke="#ccd"/>']
    for frac in (0, 0.5, 1):
        y = y0 + frac * (y1 - y0)
        _, py = px(x0, y)
        parts.append(f'<text x="{left - 4}" y="{py + 4:.1f}" font-size="11" text-anchor="end">{y:.3g}</text>')
    for x in (x0, x1):
        qx, _ = px(x, y0)
        parts.append(f'<text x="{qx:.1f}" y="{height - 14}" font-size="11" text-anchor="middle">{x:.0f}</text>')
    parts.append(f'<text x="{left + w / 2}" y="{height - 2}" font-size="11" text-anchor="middle">{esc(x_label)}</text>')
    for i, (name, points) in enumerate(series.items()):
        color = COLORS[i % len(COLORS)]
        coords = " ".join(f"{a:.1f},{b:.1f}" for a, b in (px(x, y) for x, y in sorted(points)))
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.8" points="{coords}"><title>{esc(name)}</title></polyline>')
        for x, y in points if len(points) < 40 else ():
            cx, cy = px(x, y)
            parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="2.5" fill="{color}"><title>{esc(name)} step {x:.0f}: {y:.4g}</title></circle>')
        parts.append(f'<text x="{left + 8}" y="{top + 14 + 13 * i}" font-size="11" fill="{color}">{esc(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
