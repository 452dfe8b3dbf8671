// Bundle the browser code into static/dist (git-ignored), and copy the fonts the PDF export
// embeds into static/dist/fonts. Run by `make assets`.
import { copyFile, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { build } from "esbuild";

await build({
  entryPoints: {
    app: "static/src/app.js",
    editor: "static/src/editor/main.js",
    passkeys: "static/src/passkeys-page.js",
    publication: "static/src/publication/filecheck.js",
  },
  bundle: true,
  format: "esm",
  target: ["es2020"],
  outdir: "static/dist",
  minify: process.env.NODE_ENV !== "development",
  sourcemap: true,
  logLevel: "warning",
});

// The PDF renderer (declaration/domain/documents/pdf.py) reads its fonts from this folder
// only, never from the system: the text face in the weights and styles the letter uses,
// the monospace face for code and hashes, each in the Latin and Latin Extended subsets
// (German and the names of neighbours), with their licences (SIL OFL 1.1).
const FONTS = "static/dist/fonts";
const faces = [
  { pkg: "source-serif-4", styles: ["400-normal", "400-italic", "700-normal", "700-italic"] },
  { pkg: "ibm-plex-mono", styles: ["400-normal"] },
];
await rm(FONTS, { recursive: true, force: true });
await mkdir(FONTS, { recursive: true });
const copied = [];
for (const { pkg, styles } of faces) {
  const from = `node_modules/@fontsource/${pkg}`;
  const present = new Set(await readdir(`${from}/files`));
  for (const subset of ["latin", "latin-ext"]) {
    for (const style of styles) {
      const name = `${pkg}-${subset}-${style}.woff`;
      if (!present.has(name)) throw new Error(`font file missing: ${from}/files/${name}`);
      await copyFile(`${from}/files/${name}`, `${FONTS}/${name}`);
      copied.push(name);
    }
  }
  await copyFile(`${from}/LICENSE`, `${FONTS}/${pkg}-LICENSE.txt`);
}
// Written last: `make assets` rebuilds when it is missing.
await writeFile(`${FONTS}/fonts.json`, `${JSON.stringify(copied.sort(), null, 2)}\n`);
