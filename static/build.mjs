// Bundles each entry point in src/ into dist/ (no CDN: everything is served by whitenoise).
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";

const entryPoints = {
  app: "src/app.js",
  editor: "src/editor.js",
  trash: "src/trash.js",
  monitor: "src/monitor.js",
  dashboard: "src/dashboard.js",
  limits: "src/limits.js",
};

mkdirSync("dist", { recursive: true });
await build({
  entryPoints,
  bundle: true,
  minify: process.env.FY_NO_MINIFY !== "1",
  sourcemap: true,
  outdir: "dist",
  target: ["es2020"],
  loader: { ".svg": "dataurl", ".woff": "file", ".woff2": "file", ".ttf": "file", ".eot": "file" },
  logLevel: "warning",
});
copyFileSync("src/favicon.svg", "dist/favicon.svg");
