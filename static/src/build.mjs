// Bundle the browser code into static/dist (git-ignored). Run by `make assets`.
import { build } from "esbuild";

await build({
  entryPoints: {
    app: "static/src/app.js",
    editor: "static/src/editor/main.js",
    passkeys: "static/src/passkeys-page.js",
  },
  bundle: true,
  format: "esm",
  target: ["es2020"],
  outdir: "static/dist",
  minify: process.env.NODE_ENV !== "development",
  sourcemap: true,
  logLevel: "warning",
});
