/**
 * `deno task check` (import directions): read the module graph with
 * `deno info --json` from every entry point (server.ts, client.ts,
 * scripts/*.ts and each module under lib/ and web/) and fail, naming both
 * files, when an import runs against the layout's direction rules:
 *
 * - lib/chat/ and lib/auth/ import neither lib/server/, lib/net/ nor lib/wire/;
 * - lib/client/, lib/terminal/ and web/ never import lib/server/;
 * - no module imports server.ts or client.ts.
 *
 * Type-only imports count: they couple the layers just the same.
 *
 * Usage: deno run --allow-run=deno --allow-read scripts/check_imports.ts [ROOT]
 *
 * @module
 */
import { readdir } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** One import that breaks a direction rule, as paths relative to the root. */
export interface ImportViolation {
  /** The module that imports. */
  importer: string;
  /** The module it imports. */
  imported: string;
  /** The rule it breaks, in words. */
  rule: string;
}

/** Options for {@linkcode findImportViolations}. */
export interface FindImportViolationsOptions {
  /**
   * The deno executable that runs `deno info`.
   *
   * @default {"deno"}
   */
  deno?: string;
}

const DOMAIN = ["lib/chat/", "lib/auth/"];
const DOMAIN_FORBIDDEN = ["lib/server/", "lib/net/", "lib/wire/"];
const CLIENT_SIDE = ["lib/client/", "lib/terminal/", "web/"];
const ENTRY_POINTS = ["server.ts", "client.ts"];

function under(path: string, folders: readonly string[]): boolean {
  return folders.some((folder) => path.startsWith(folder));
}

/**
 * The direction rule an import breaks, if any.
 *
 * @param importer The importing module, relative to the repository root with `/`.
 * @param imported The imported module, in the same form.
 * @returns The broken rule in words, or `undefined` when the import is allowed.
 *
 * @example Usage
 * ```ts
 * import { brokenImportRule } from "./check_imports.ts";
 * import { equal } from "node:assert/strict";
 *
 * equal(brokenImportRule("lib/chat/hub.ts", "lib/util/clock.ts"), undefined);
 * equal(
 *   brokenImportRule("lib/chat/hub.ts", "lib/wire/protocol.ts"),
 *   "lib/chat/ and lib/auth/ must not import lib/server/, lib/net/ or lib/wire/",
 * );
 * ```
 */
export function brokenImportRule(importer: string, imported: string): string | undefined {
  if (ENTRY_POINTS.includes(imported)) {
    return "no module may import an entry point (server.ts, client.ts)";
  }
  if (under(importer, DOMAIN) && under(imported, DOMAIN_FORBIDDEN)) {
    return "lib/chat/ and lib/auth/ must not import lib/server/, lib/net/ or lib/wire/";
  }
  if (under(importer, CLIENT_SIDE) && under(imported, ["lib/server/"])) {
    return "lib/client/, lib/terminal/ and web/ must not import lib/server/";
  }
  return undefined;
}

async function modulesUnder(root: string, folder: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(join(root, folder), { recursive: true, withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  return entries
    .filter((e) => e.isFile() && /\.(ts|tsx|js|mjs)$/.test(e.name) && !e.name.endsWith(".d.ts"))
    .map((e) => join(e.parentPath, e.name));
}

/**
 * The entry points the graph is read from: server.ts, client.ts, scripts/*.ts
 * and every module under lib/ and web/, as absolute paths (missing ones are
 * left out).
 *
 * @param root The repository root.
 * @returns Absolute paths, sorted.
 */
export async function importEntryPoints(root: string): Promise<string[]> {
  const found: string[] = [];
  for (const name of ENTRY_POINTS) {
    try {
      if ((await Deno.stat(join(root, name))).isFile) found.push(join(root, name));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  const scripts = (await modulesUnder(root, "scripts"))
    .filter((path) => relative(join(root, "scripts"), path).split(sep).length === 1);
  found.push(...scripts, ...await modulesUnder(root, "lib"), ...await modulesUnder(root, "web"));
  return found.sort();
}

interface InfoDependency {
  code?: { specifier?: string };
  type?: { specifier?: string };
}

interface InfoModule {
  specifier: string;
  dependencies?: InfoDependency[];
}

/**
 * Every import under `root` that breaks a direction rule, read from one
 * `deno info --json` run whose root imports all the entry points.
 *
 * @param root The repository root (its deno.json, if any, resolves bare names).
 * @param options Which deno to run.
 * @returns The violations, sorted by importer then imported.
 * @throws {Error} When `deno info` fails.
 */
export async function findImportViolations(
  root: string,
  options: FindImportViolationsOptions = {},
): Promise<ImportViolation[]> {
  const entries = await importEntryPoints(root);
  if (entries.length === 0) return [];
  const rootModule = "data:application/typescript," + encodeURIComponent(
    entries.map((path) => `import ${JSON.stringify(pathToFileURL(path).href)};`).join("\n"),
  );
  const result = await new Deno.Command(options.deno ?? "deno", {
    args: ["info", "--json", rootModule],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  if (!result.success) {
    const stderr = new TextDecoder().decode(result.stderr).trim();
    throw new Error(`Cannot read the module graph: deno info failed (${stderr})`);
  }
  const graph = JSON.parse(new TextDecoder().decode(result.stdout)) as { modules: InfoModule[] };
  const local = (specifier: string | undefined): string | undefined => {
    if (!specifier?.startsWith("file:")) return undefined;
    const path = relative(root, fileURLToPath(specifier));
    return path.startsWith("..") ? undefined : path.split(sep).join("/");
  };
  const seen = new Set<string>();
  const violations: ImportViolation[] = [];
  for (const module of graph.modules) {
    const importer = local(module.specifier);
    if (importer === undefined) continue;
    for (const dependency of module.dependencies ?? []) {
      for (const target of [dependency.code?.specifier, dependency.type?.specifier]) {
        const imported = local(target);
        if (imported === undefined) continue;
        const rule = brokenImportRule(importer, imported);
        const key = `${importer}\0${imported}`;
        if (rule === undefined || seen.has(key)) continue;
        seen.add(key);
        violations.push({ importer, imported, rule });
      }
    }
  }
  return violations.sort((a, b) =>
    a.importer.localeCompare(b.importer) || a.imported.localeCompare(b.imported)
  );
}

/**
 * Run the check and print the result.
 *
 * @param args `[ROOT]`, the repository root (default: the current directory).
 * @returns Exit status: 0 when clean, 1 on a violation.
 */
export async function main(args: string[]): Promise<number> {
  const root = args[0] ?? Deno.cwd();
  const modules = await importEntryPoints(root);
  const violations = await findImportViolations(root);
  for (const v of violations) {
    console.error(`${v.importer} imports ${v.imported}: ${v.rule}`);
  }
  if (violations.length > 0) {
    console.error(`check_imports: ${violations.length} import(s) against the direction rules`);
    return 1;
  }
  console.log(`check_imports: ${modules.length} entry modules, import directions clean`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
