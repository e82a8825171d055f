"""`save_html`: a self-contained page that shows widgets' last frames without a kernel.

The page holds the built front end (base64, loaded as a module from a Blob URL)
and each widget's synced state (bytes as base64); a tiny stand-in for the
anywidget model serves ``get``/``set``/``on`` from that state, so the same
render code draws the same canvas. Display controls keep working; compute
controls are disabled (``interactive = False``). All strings travel as JSON
inside a ``<script type="application/json">`` with ``<``, ``>`` and ``&``
escaped, and the JS only ever puts them into ``textContent``.
"""

import base64
import html
import json
from pathlib import Path

from .explorer import bundle

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>body {{ font-family: system-ui, sans-serif; margin: 16px; }}
.xw-page {{ display: grid; grid-template-columns: repeat({columns}, max-content); gap: 12px; }}</style>
</head>
<body>
<div class="xw-page" id="xw-page"></div>
<script type="application/json" id="xw-state">{state}</script>
<script type="module">
const bytes = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const revive = (value) => (value && typeof value === "object" && "$bytes" in value)
  ? new DataView(bytes(value.$bytes).buffer) : value;
function staticModel(state) {{
  const listeners = new Map();
  return {{
    get: (name) => state[name],
    set(name, value) {{
      state[name] = value;
      for (const handler of listeners.get(`change:${{name}}`) ?? []) handler();
    }},
    save_changes() {{}},
    send() {{}},
    on(event, handler) {{ listeners.set(event, [...(listeners.get(event) ?? []), handler]); }},
    off(event, handler) {{ listeners.set(event, (listeners.get(event) ?? []).filter((h) => h !== handler)); }},
  }};
}}
const page = JSON.parse(document.getElementById("xw-state").textContent);
const source = new TextDecoder().decode(bytes(page.bundle));
const url = URL.createObjectURL(new Blob([source], {{ type: "text/javascript" }}));
const widget = (await import(url)).default;
const grid = document.getElementById("xw-page");
for (const raw of page.widgets) {{
  const state = Object.fromEntries(Object.entries(raw).map(([name, value]) => [name, revive(value)]));
  const el = document.createElement("div");
  grid.append(el);
  widget.render({{ model: staticModel(state), el }});
}}
</script>
</body>
</html>
"""


def widget_state(widget):
    """The synced state the front end reads, JSON-able (bytes as ``{"$bytes": base64}``)."""
    state = {}
    for name in widget.keys:
        if name.startswith("_") or name in ("layout", "tabbable", "tooltip"):
            continue
        value = getattr(widget, name)
        state[name] = {"$bytes": base64.b64encode(value).decode("ascii")} if isinstance(value, bytes) else value
    state["interactive"] = False
    return state


def write_html(path, widgets, columns=1, title="xai-widgets"):
    """Write ``widgets`` (explorers) as one self-contained HTML page; returns the path.

    Raises:
        RuntimeError: the front end is not built (no ``static/explorer.js``).
    """
    from .explorer import STATIC

    if not (STATIC / "explorer.js").is_file():
        raise RuntimeError("save_html needs the built front end: run `npm install && npm run build` first.")
    page = {
        "bundle": base64.b64encode(bundle("explorer").encode("utf-8")).decode("ascii"),
        "widgets": [widget_state(widget) for widget in widgets],
    }
    state = json.dumps(page, allow_nan=False).replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    text = PAGE.format(title=html.escape(title), columns=int(columns), state=state)
    path = Path(path)
    path.write_text(text, encoding="utf-8")
    return path
