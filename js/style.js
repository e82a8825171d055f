// The explorer's stylesheet (scoped by the xw- class prefix; follows the Jupyter theme when present).
export const STYLE = `
.xw-explorer { font: 12px/1.4 var(--jp-ui-font-family, system-ui, sans-serif); color: var(--jp-ui-font-color1, #222);
  display: flex; flex-direction: column; gap: 6px; padding: 4px; max-width: 100%; }
.xw-explorer .xw-title { font-weight: 600; }
.xw-explorer .xw-top, .xw-explorer .xw-main, .xw-explorer .xw-alpha-row { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.xw-explorer .xw-figure { display: flex; gap: 6px; align-items: stretch; }
.xw-explorer canvas.xw-canvas, .xw-explorer canvas.xw-small { image-rendering: pixelated; image-rendering: crisp-edges;
  border: 1px solid var(--jp-border-color2, #ccc); background: #000; }
.xw-explorer .xw-colorbar { display: flex; flex-direction: column; justify-content: space-between; align-items: flex-start; gap: 2px; }
.xw-explorer .xw-colorbar canvas { width: 12px; image-rendering: pixelated; border: 1px solid var(--jp-border-color2, #ccc); }
.xw-explorer .xw-colorbar-row { display: flex; gap: 4px; }
.xw-explorer .xw-ticks { display: flex; flex-direction: column; justify-content: space-between; font-size: 10px; }
.xw-explorer .xw-panel { display: flex; flex-direction: column; gap: 8px; min-width: 240px; }
.xw-explorer fieldset { border: 1px solid var(--jp-border-color2, #ddd); border-radius: 4px; padding: 4px 8px; margin: 0; }
.xw-explorer legend { padding: 0 4px; color: var(--jp-ui-font-color2, #555); }
.xw-explorer .xw-row { display: grid; grid-template-columns: 70px 1fr 56px; gap: 6px; align-items: center; margin: 2px 0; }
.xw-explorer .xw-row select { grid-column: 2 / 4; }
.xw-explorer .xw-value { font-variant-numeric: tabular-nums; text-align: right; }
.xw-explorer .xw-status { display: flex; gap: 8px; align-items: center; }
.xw-explorer .xw-progress { width: 160px; height: 6px; background: var(--jp-layout-color3, #ddd); border-radius: 3px; overflow: hidden; }
.xw-explorer .xw-progress-fill { height: 100%; width: 0; background: var(--jp-brand-color1, #1976d2); }
.xw-explorer .xw-figures { font-variant-numeric: tabular-nums; color: var(--jp-ui-font-color2, #555); }
.xw-explorer .xw-error { color: var(--jp-error-color1, #b00020); white-space: pre-wrap; }
.xw-explorer .xw-error:empty { display: none; }
.xw-explorer .xw-cell { display: flex; flex-direction: column; gap: 2px; align-items: center; font-size: 11px; }
.xw-explorer .xw-legend span { margin-right: 10px; }
.xw-explorer[data-compact="true"] .xw-panel, .xw-explorer[data-compact="true"] .xw-top,
.xw-explorer[data-compact="true"] .xw-alpha { display: none; }
.xw-explorer .xw-alpha[hidden] { display: none; }
`;
