// Bundles every widget entry (js/<name>.js with a default export) into xai_widgets/static/<name>.js.
import { build } from "esbuild";
import { existsSync } from "node:fs";

const entries = ["explorer", "summit"]
  .map((name) => `js/${name}.js`)
  .filter((path) => existsSync(path));

await build({
  entryPoints: entries,
  bundle: true,
  format: "esm",
  minify: true,
  target: ["es2020"],
  outdir: "xai_widgets/static",
  logLevel: "info",
});
