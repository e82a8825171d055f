// The Summit view's stylesheet (scoped by the xw-summit class; follows the Jupyter theme when present).
export const SUMMIT_STYLE = `
.xw-summit { font: 12px/1.4 var(--jp-ui-font-family, system-ui, sans-serif); color: var(--jp-ui-font-color1, #222);
  display: flex; flex-direction: column; gap: 8px; padding: 4px; max-width: 100%; position: relative; }
.xw-summit .xw-summit-status { display: flex; gap: 8px; align-items: center; color: var(--jp-ui-font-color2, #555); }
.xw-summit .xw-progress { width: 160px; height: 6px; background: var(--jp-layout-color3, #ddd); border-radius: 3px; overflow: hidden; }
.xw-summit .xw-progress-fill { height: 100%; width: 0; background: var(--jp-brand-color1, #1976d2); }
.xw-summit .xw-error { color: var(--jp-error-color1, #b00020); white-space: pre-wrap; }
.xw-summit .xw-error:empty { display: none; }
.xw-summit .xw-summit-main { display: flex; gap: 12px; align-items: flex-start; flex-wrap: wrap; }
.xw-summit .xw-summit-side { display: flex; flex-direction: column; gap: 6px; width: 220px; }
.xw-summit .xw-summit-tools { display: flex; gap: 4px; }
.xw-summit .xw-summit-tools input { flex: 1; min-width: 0; }
.xw-summit .xw-class-list { list-style: none; margin: 0; padding: 0; max-height: 220px; overflow-y: auto;
  border: 1px solid var(--jp-border-color2, #ddd); border-radius: 4px; }
.xw-summit .xw-class-row { display: flex; justify-content: space-between; padding: 2px 6px; cursor: pointer; }
.xw-summit .xw-class-row:hover { background: var(--jp-layout-color2, #eee); }
.xw-summit .xw-class-row[aria-selected="true"] { background: var(--jp-brand-color3, #bbdefb); font-weight: 600; }
.xw-summit .xw-class-count { font-variant-numeric: tabular-nums; color: var(--jp-ui-font-color2, #555); }
.xw-summit svg text { fill: currentColor; font-size: 11px; }
.xw-summit .xw-class-map { border: 1px solid var(--jp-border-color2, #ddd); border-radius: 4px; }
.xw-summit .xw-class-dot { fill: var(--jp-brand-color1, #1976d2); cursor: pointer; opacity: 0.7; }
.xw-summit .xw-class-dot[data-selected="true"] { fill: var(--jp-warn-color0, #e65100); opacity: 1; }
.xw-summit .xw-summit-graph-box { overflow: auto; max-width: 100%; }
.xw-summit .xw-edge { fill: none; stroke: var(--jp-brand-color1, #1976d2); stroke-opacity: 0.35; }
.xw-summit .xw-edge[data-active="true"] { stroke-opacity: 0.9; }
.xw-summit .xw-node { cursor: default; }
.xw-summit .xw-node rect { fill: transparent; pointer-events: all; stroke: var(--jp-border-color1, #999); }
.xw-summit .xw-node:hover rect { stroke: var(--jp-warn-color0, #e65100); stroke-width: 2; }
.xw-summit .xw-node image { image-rendering: pixelated; }
.xw-summit .xw-tooltip { position: absolute; z-index: 10; pointer-events: none; background: var(--jp-layout-color0, #fff);
  border: 1px solid var(--jp-border-color1, #999); border-radius: 4px; padding: 6px; box-shadow: 0 2px 6px rgba(0,0,0,.2);
  display: flex; flex-direction: column; gap: 4px; max-width: 360px; }
.xw-summit .xw-tooltip[hidden] { display: none; }
.xw-summit .xw-tooltip-examples { display: flex; gap: 4px; flex-wrap: wrap; }
.xw-summit .xw-example { display: flex; flex-direction: column; align-items: center; font-size: 10px; }
.xw-summit .xw-example-image { width: 48px; height: 48px; background-repeat: no-repeat; image-rendering: pixelated;
  border: 1px solid var(--jp-border-color2, #ccc); }
`;
