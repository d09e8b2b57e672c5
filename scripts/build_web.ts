/**
 * `deno task web:build`: bundle the web client (web/main.ts and what it
 * imports, lib/wire/protocol.ts included) into web/dist/app.js with `deno
 * bundle`, and copy the page and style sheet beside it. The server serves
 * web/dist; `deno compile` embeds it with `--include web/dist`.
 *
 * @module
 */
import { join } from "node:path";

const ROOT = join(import.meta.dirname ?? ".", "..");
const DIST = join(ROOT, "web", "dist");

/**
 * Build the bundle.
 *
 * @param _args Unused.
 * @returns The exit code.
 */
export async function main(_args: string[]): Promise<number> {
  await Deno.mkdir(DIST, { recursive: true });
  const bundle = await new Deno.Command("deno", {
    args: [
      "bundle",
      "--quiet",
      "--platform=browser",
      "--minify",
      `--output=${join(DIST, "app.js")}`,
      join(ROOT, "web", "main.ts"),
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!bundle.success) {
    console.error("Cannot build the web client: deno bundle failed");
    return 1;
  }
  for (const name of ["index.html", "app.css"]) {
    await Deno.copyFile(join(ROOT, "web", name), join(DIST, name));
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
