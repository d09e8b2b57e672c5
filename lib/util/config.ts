/**
 * Typed, validated configuration from one table of settings. Each setting
 * comes from, in order: a command-line flag, an environment variable, the
 * config file (`--config FILE`, JSON or JSONC), or its default. Unknown keys
 * and bad values are errors that name the key.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { getNodeValue, type ParseError, parseTree, printParseErrorCode } from "jsonc-parser";
import { nearest } from "./nearest.ts";
import { whyUnreadable } from "./why_unreadable.ts";

/** The kinds of value a setting can hold. */
export type SettingType = "string" | "integer" | "boolean" | "strings";

/** The value a setting of kind `T` holds once loaded. */
export type ValueOf<T extends SettingType> = T extends "string" ? string
  : T extends "integer" ? number
  : T extends "boolean" ? boolean
  : string[];

/** One setting of kind `T`: its name in every source, type, default and help. */
export interface SettingOf<T extends SettingType> {
  /** camelCase key in the config object and the config file. */
  readonly key: string;
  readonly type: T;
  /** Default value; undefined means "not set". */
  readonly default: (T extends "strings" ? readonly string[] : ValueOf<T>) | undefined;
  readonly help: string;
  /** Allowed values, for strings. */
  readonly choices?: readonly string[];
  /** Inclusive range, for integers. */
  readonly min?: number;
  readonly max?: number;
  /** Single-letter flag alias. */
  readonly short?: string;
  /** What `--help` shows as the default, when that is not `default`
   * itself (a default derived from another setting). */
  readonly defaultHelp?: string;
  /**
   * For strings and lists: what is wrong with one value (one item of a
   * list), or undefined when it is fine. The error names the setting and
   * where the value came from.
   */
  readonly check?: (value: string) => string | undefined;
}

/** One setting of any kind; its default has the type of its kind. */
export type Setting = { [T in SettingType]: SettingOf<T> }[SettingType];

/**
 * The value type of one setting: its kind's type, narrowed to the literal
 * `choices` when it has them, plus `undefined` when it has no default.
 */
export type SettingValue<S extends Setting> =
  | (S extends { readonly type: "string"; readonly choices: readonly (infer C)[] } ? C
    : ValueOf<S["type"]>)
  | (undefined extends S["default"] ? undefined : never);

/**
 * The typed configuration a table of settings loads into, one property per
 * setting. Declare the table `as const satisfies readonly Setting[]` so keys,
 * kinds and choices stay literal.
 *
 * @example
 * ```ts
 * const TABLE = [
 *   { key: "port", type: "integer", default: 9001, help: "Port" },
 *   { key: "mode", type: "string", default: "a", help: "Mode", choices: ["a", "b"] },
 *   { key: "name", type: "string", default: undefined, help: "Name" },
 * ] as const satisfies readonly Setting[];
 * const config: ConfigOf<typeof TABLE> = { port: 1, mode: "b", name: undefined };
 * ```
 */
export type ConfigOf<T extends readonly Setting[]> = {
  [S in T[number] as S["key"]]: SettingValue<S>;
};

/** A configuration problem; `key` names the setting. */
export class ConfigError extends Error {
  /** The setting at fault, when there is one. */
  readonly key: string | undefined;
  /**
   * @param message What is wrong.
   * @param key The setting at fault.
   */
  constructor(message: string, key?: string) {
    super(message);
    this.name = "ConfigError";
    this.key = key;
  }
}

/** kebab-case flag for a camelCase key. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

/** Environment variable for a key, e.g. `httpPort` -> `BANTER_HTTP_PORT`. */
export function envName(key: string): string {
  return "BANTER_" + flagName(key).replaceAll("-", "_").toUpperCase();
}

/** The variable that names the config file when `--config` is not given. */
export const CONFIG_ENV = "BANTER_CONFIG";

/**
 * The environment variables `settings` read (and {@linkcode CONFIG_ENV}), as
 * `get` reports them: only these are asked for, so a program needs
 * `--allow-env` for exactly those names.
 *
 * @param settings The settings table.
 * @param get Reads one variable, e.g. `(name) => Deno.env.get(name)`.
 * @returns Variable name to value (undefined when unset).
 *
 * @example
 * ```ts
 * import { settingsEnvironment } from "./config.ts";
 * const env = settingsEnvironment(
 *   [{ key: "httpPort" }],
 *   (name) => name === "BANTER_HTTP_PORT" ? "8080" : undefined,
 * );
 * if (env.BANTER_HTTP_PORT !== "8080" || !("BANTER_CONFIG" in env)) throw new Error("wrong");
 * ```
 */
export function settingsEnvironment(
  settings: readonly { readonly key: string }[],
  get: (name: string) => string | undefined,
): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const name of [...settings.map((s) => envName(s.key)), CONFIG_ENV]) env[name] = get(name);
  return env;
}

/** 1-based line and column of `offset` in `text`. */
function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return `line ${line}, column ${offset - before.lastIndexOf("\n")}`;
}

/**
 * Read a JSON or JSONC config file (comments, trailing commas) into its
 * top-level entries. Errors name the file and a position but never quote
 * the text: it may hold the SMTP password.
 */
function readConfigFile(text: string, path: string): Record<string, unknown> {
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { allowTrailingComma: true });
  const first = errors[0];
  if (first !== undefined) {
    throw new ConfigError(
      `Cannot parse config file ${path}: not valid JSON near ${
        lineAndColumn(text, first.offset)
      } (${printParseErrorCode(first.error)})`,
      "config",
    );
  }
  if (root?.type !== "object") {
    throw new ConfigError(
      `Cannot parse config file ${path}: not a JSON object`,
      "config",
    );
  }
  // Entries go on a prototype-less object, so "__proto__" is just an unknown key.
  const entries: Record<string, unknown> = Object.create(null);
  for (const property of root.children ?? []) {
    const [name, value] = property.children ?? [];
    if (name !== undefined && value !== undefined) {
      entries[String(name.value)] = getNodeValue(value);
    }
  }
  return entries;
}

function convert(setting: Setting, raw: unknown, source: string): unknown {
  const where = `${setting.key} (from ${source})`;
  switch (setting.type) {
    case "string": {
      if (typeof raw !== "string") {
        throw new ConfigError(
          `Invalid ${where}: expected a string`,
          setting.key,
        );
      }
      if (setting.choices && !setting.choices.includes(raw)) {
        throw new ConfigError(
          `Invalid ${where}: "${raw}" is not one of ${setting.choices.join(", ")}`,
          setting.key,
        );
      }
      checkValue(setting, raw, where);
      return raw;
    }
    case "integer": {
      const n = typeof raw === "string" && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
      if (typeof n !== "number" || !Number.isSafeInteger(n)) {
        throw new ConfigError(
          `Invalid ${where}: expected an integer`,
          setting.key,
        );
      }
      if (
        (setting.min !== undefined && n < setting.min) ||
        (setting.max !== undefined && n > setting.max)
      ) {
        throw new ConfigError(
          `Invalid ${where}: ${n} is outside ${setting.min ?? "-∞"}..${setting.max ?? "∞"}`,
          setting.key,
        );
      }
      return n;
    }
    case "boolean": {
      if (typeof raw === "boolean") return raw;
      if (raw === "true" || raw === "1") return true;
      if (raw === "false" || raw === "0") return false;
      throw new ConfigError(
        `Invalid ${where}: expected true or false`,
        setting.key,
      );
    }
    case "strings": {
      const items = typeof raw === "string"
        ? raw.split(",").map((s) => s.trim())
        : Array.isArray(raw) && raw.every((s) => typeof s === "string")
        ? raw.map((s) => s.trim())
        : undefined;
      if (items === undefined) {
        throw new ConfigError(
          `Invalid ${where}: expected a list of strings`,
          setting.key,
        );
      }
      if (items.some((item) => item === "")) {
        throw new ConfigError(`Invalid ${where}: an empty item in the list`, setting.key);
      }
      for (const item of items) checkValue(setting, item, where);
      return items;
    }
  }
}

/** Throws the setting's own objection to `value`, if it has one. */
function checkValue(setting: Setting, value: string, where: string): void {
  const problem = setting.check?.(value);
  if (problem !== undefined) throw new ConfigError(`Invalid ${where}: ${problem}`, setting.key);
}

/** Whether `value` is one a loaded `setting` may hold. */
function fits(setting: Setting, value: unknown): boolean {
  if (value === undefined) return setting.default === undefined;
  switch (setting.type) {
    case "string":
      return typeof value === "string" && (setting.choices?.includes(value) ?? true);
    case "integer":
      return typeof value === "number" && Number.isSafeInteger(value) &&
        value >= (setting.min ?? -Infinity) && value <= (setting.max ?? Infinity);
    case "boolean":
      return typeof value === "boolean";
    case "strings":
      return Array.isArray(value) && value.every((v) => typeof v === "string");
  }
}

/**
 * The one place where loaded values meet their table's type: checks that
 * every setting got a value that fits it (defaults included).
 */
function isConfigOf<T extends readonly Setting[]>(
  values: Record<string, unknown>,
  settings: T,
): values is Record<string, unknown> & ConfigOf<T> {
  return settings.every((s) => fits(s, values[s.key]));
}

/**
 * The first flag in `args` that is not one of `options`, as an error that suggests the nearest known flag; undefined when
 * every flag is known (the command line is wrong some other way).
 */
function unknownFlag(
  args: readonly string[],
  options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>,
): ConfigError | undefined {
  const known = Object.keys(options);
  const { tokens } = parseArgs({
    args: [...args],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const names = new Set(known);
  for (const token of tokens) {
    if (token.kind !== "option" || names.has(token.name)) continue;
    const typed = token.rawName.startsWith("--") ? `--${token.name}` : token.rawName;
    const hint = token.name.length > 1 ? nearest(token.name, known) : undefined;
    return new ConfigError(
      `Unknown flag ${typed}${hint === undefined ? "" : `: did you mean --${hint}?`}`,
    );
  }
  return undefined;
}

/** Where configuration comes from; injected so tests need no process state. */
export interface ConfigSources {
  /** Command-line arguments (without the program name). */
  args: readonly string[];
  /** Environment variables. */
  env?: Record<string, string | undefined>;
  /** Reads the config file named by `--config`. */
  readFile?: (path: string) => string;
}

/** The result of {@linkcode loadConfig}: values plus positional arguments. */
export interface LoadedConfig<C> {
  /** One value per setting (undefined for unset optional settings). */
  values: C;
  /** Positional arguments left after the flags. */
  positionals: string[];
  /** `--help` was given. */
  help: boolean;
}

/**
 * Load configuration for `settings` from flags, environment, file, defaults.
 *
 * @param settings The table.
 * @param sources Flags, environment, file reader.
 * @returns Values by key (undefined for unset optional settings).
 * @throws {ConfigError} For unknown flags or keys and invalid values.
 * @throws {TypeError} When a table's own default does not fit its setting.
 */
export function loadConfig<T extends readonly Setting[]>(
  settings: T,
  sources: ConfigSources,
): LoadedConfig<ConfigOf<T>> {
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = {
    help: { type: "boolean", short: "h" },
    config: { type: "string" },
  };
  for (const s of settings) {
    options[flagName(s.key)] = {
      type: s.type === "boolean" ? "boolean" : "string",
      ...(s.short ? { short: s.short } : {}),
      ...(s.type === "strings" ? { multiple: true } : {}),
    };
    if (s.type === "boolean") {
      options["no-" + flagName(s.key)] = { type: "boolean" };
    }
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...sources.args],
      options,
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw unknownFlag(sources.args, options) ?? new ConfigError(
      `Invalid command line: ${error instanceof Error ? error.message : error}`,
    );
  }
  const flags = parsed.values;
  const env = sources.env ?? {};
  const configPath = typeof flags["config"] === "string" ? flags["config"] : env[CONFIG_ENV];
  let file: Record<string, unknown> = {};
  if (configPath !== undefined) {
    if (!sources.readFile) throw new ConfigError("Cannot read config file");
    let text: string;
    try {
      text = sources.readFile(configPath);
    } catch (error) {
      throw new ConfigError(
        `Cannot read config file ${configPath}: ${whyUnreadable(error)}`,
        "config",
      );
    }
    file = readConfigFile(text, configPath);
    const known = new Set(settings.map((s) => s.key));
    for (const key of Object.keys(file)) {
      if (!known.has(key)) {
        const hint = nearest(key, known);
        throw new ConfigError(
          `Unknown setting "${key}" in ${configPath}${
            hint === undefined ? "" : `: did you mean "${hint}"?`
          }`,
          key,
        );
      }
    }
  }
  const values: Record<string, unknown> = {};
  for (const s of settings) {
    const flag = flagName(s.key);
    const fromFlag = flags["no-" + flag] === true ? false : flags[flag];
    const fromEnv = env[envName(s.key)];
    if (fromFlag !== undefined) {
      values[s.key] = convert(
        s,
        Array.isArray(fromFlag) ? fromFlag.flatMap((v) => String(v).split(",")) : fromFlag,
        `--${flag}`,
      );
    } else if (fromEnv !== undefined && fromEnv !== "") {
      values[s.key] = convert(s, fromEnv, envName(s.key));
    } else if (file[s.key] !== undefined) {
      values[s.key] = convert(s, file[s.key], configPath ?? "config file");
    } else {
      values[s.key] = Array.isArray(s.default) ? [...s.default] : s.default;
    }
  }
  if (!isConfigOf(values, settings)) {
    const misfit = settings.find((s) => !fits(s, values[s.key]));
    throw new TypeError(`Cannot load config: the value of ${misfit?.key} does not fit its setting`);
  }
  return {
    values,
    positionals: parsed.positionals,
    help: flags["help"] === true,
  };
}

/**
 * Help text listing every setting with its flag, variable and default.
 *
 * @param usage First line(s).
 * @param settings The table.
 * @returns Text for `--help`.
 */
export function helpText(usage: string, settings: readonly Setting[]): string {
  const lines = [usage, "", "Options (flag, environment variable, default):"];
  for (const s of settings) {
    const arg = s.type === "boolean" ? "" : s.type === "integer" ? " N" : " VALUE";
    const def = s.defaultHelp !== undefined
      ? s.defaultHelp
      : s.default === undefined
      ? "unset"
      : Array.isArray(s.default)
      ? JSON.stringify(s.default)
      : String(s.default);
    const choices = s.choices ? ` (${s.choices.join("|")})` : "";
    lines.push(
      `  --${flagName(s.key)}${arg}${s.short ? `, -${s.short}` : ""}`,
      `      ${s.help}${choices}. ${envName(s.key)}, default: ${def}`,
    );
  }
  lines.push(
    "  --config FILE",
    "      JSON or JSONC file with any of the settings above (camelCase keys). BANTER_CONFIG",
    "  --help, -h",
    "      Show this help",
  );
  return lines.join("\n");
}
