import { deepEqual, equal, match } from "node:assert/strict";
import { dirname, join } from "node:path";
import { findImportViolations, importEntryPoints } from "../../scripts/check_imports.ts";
import { tempDir } from "../_helpers.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/** Write a fixture tree: path -> source text. */
async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(dirname(join(root, path)), { recursive: true });
    await Deno.writeTextFile(join(root, path), text);
  }
}

/** The violations of a fixture tree, as "importer -> imported" lines. */
async function violationsOf(files: Record<string, string>): Promise<string[]> {
  await using dir = await tempDir();
  await writeTree(dir.path, files);
  const found = await findImportViolations(dir.path, { deno: Deno.execPath() });
  return found.map((v) => `${v.importer} -> ${v.imported}`);
}

const CLEAN_TREE = {
  "server.ts": `import { start } from "./lib/server/app.ts";\nstart();\n`,
  "client.ts": `import { run } from "./lib/client/run.ts";\nrun();\n`,
  "lib/server/app.ts": `import { hub } from "../chat/hub.ts";\n` +
    `import { parse } from "../wire/protocol.ts";\nexport function start() { hub(); parse(); }\n`,
  "lib/wire/protocol.ts": `export function parse() {}\n`,
  "lib/net/tls_server.ts":
    `import { parse } from "../wire/protocol.ts";\nexport const p = parse;\n`,
  "lib/chat/hub.ts": `import { now } from "../util/clock.ts";\nexport function hub() { now(); }\n`,
  "lib/auth/login.ts": `import { hub } from "../chat/hub.ts";\nexport const h = hub;\n`,
  "lib/util/clock.ts": `export function now() { return 0; }\n`,
  "lib/client/run.ts": `import { parse } from "../wire/protocol.ts";\n` +
    `import { draw } from "../terminal/screen.ts";\nexport function run() { parse(); draw(); }\n`,
  "lib/terminal/screen.ts": `export function draw() {}\n`,
  "scripts/user.ts": `import { h } from "../lib/auth/login.ts";\nh();\n`,
};

Deno.test("check_imports accepts a tree whose imports follow the directions", async () => {
  deepEqual(await violationsOf(CLEAN_TREE), []);
});

for (const forbidden of ["lib/server/app.ts", "lib/net/tls_server.ts", "lib/wire/protocol.ts"]) {
  for (const domain of ["lib/chat/hub.ts", "lib/auth/login.ts"]) {
    Deno.test(`check_imports names ${domain} importing ${forbidden}`, async () => {
      const files: Record<string, string> = { ...CLEAN_TREE };
      files[domain] += `import "../../${forbidden}";\n`;
      deepEqual(await violationsOf(files), [`${domain} -> ${forbidden}`]);
    });
  }
}

for (const side of ["lib/client/run.ts", "lib/terminal/screen.ts", "web/app.ts"]) {
  Deno.test(`check_imports names ${side} importing lib/server/`, async () => {
    const files: Record<string, string> = { ...CLEAN_TREE };
    const up = side.startsWith("web/") ? "../" : "../../";
    files[side] = (files[side] ?? "") + `import "${up}lib/server/app.ts";\n`;
    deepEqual(await violationsOf(files), [`${side} -> lib/server/app.ts`]);
  });
}

Deno.test("check_imports names a module importing an entry point", async () => {
  const violations = await violationsOf({
    ...CLEAN_TREE,
    "lib/util/clock.ts": `import "../../client.ts";\nexport function now() { return 0; }\n`,
    "scripts/user.ts": `import "../server.ts";\n`,
  });
  deepEqual(violations, ["lib/util/clock.ts -> client.ts", "scripts/user.ts -> server.ts"]);
});

Deno.test("check_imports counts a type-only import", async () => {
  const violations = await violationsOf({
    ...CLEAN_TREE,
    "lib/chat/hub.ts": `import type { p } from "../net/tls_server.ts";\n` +
      `export function hub(x?: typeof p) { return x; }\n`,
  });
  deepEqual(violations, ["lib/chat/hub.ts -> lib/net/tls_server.ts"]);
});

Deno.test("check_imports finds a lib/ module that no entry point reaches", async () => {
  const violations = await violationsOf({
    ...CLEAN_TREE,
    "lib/chat/orphan.ts": `import "../wire/protocol.ts";\n`,
  });
  deepEqual(violations, ["lib/chat/orphan.ts -> lib/wire/protocol.ts"]);
});

Deno.test("check_imports reads entry points from server.ts, client.ts, scripts/ and lib/", async () => {
  await using dir = await tempDir();
  await writeTree(dir.path, { ...CLEAN_TREE, "scripts/sub/deep.ts": "", "tests/x_test.ts": "" });
  const entries = (await importEntryPoints(dir.path)).map((p) => p.slice(dir.path.length + 1));
  equal(entries.includes("scripts/sub/deep.ts"), false);
  equal(entries.includes("tests/x_test.ts"), false);
  deepEqual(entries, Object.keys(CLEAN_TREE).sort());
});

Deno.test("the repository's imports follow the direction rules", async () => {
  deepEqual(await findImportViolations(ROOT, { deno: Deno.execPath() }), []);
});

Deno.test("check_imports exits 1 and names both files on a violation", async () => {
  await using dir = await tempDir();
  await writeTree(dir.path, {
    ...CLEAN_TREE,
    "lib/terminal/screen.ts": `import "../server/app.ts";\nexport function draw() {}\n`,
  });
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-run", "--allow-read", join(ROOT, "scripts/check_imports.ts"), dir.path],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", PATH: dirname(Deno.execPath()) },
  }).output();
  equal(result.code, 1);
  match(
    new TextDecoder().decode(result.stderr),
    /lib\/terminal\/screen\.ts imports lib\/server\/app\.ts/,
  );
});

Deno.test("check_imports exits 0 with a one-line summary on the repository", async () => {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-run", "--allow-read", join(ROOT, "scripts/check_imports.ts"), ROOT],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", PATH: dirname(Deno.execPath()) },
  }).output();
  equal(result.code, 0, new TextDecoder().decode(result.stderr));
  match(
    new TextDecoder().decode(result.stdout),
    /^check_imports: \d+ entry modules, import directions clean\n$/,
  );
});
