/**
 * Typed, validated configuration from one table of settings. Each setting
 * comes from, in order: a command-line flag, an environment variable, the
 * config file (`--config FILE`, JSON or JSONC), or its default. Unknown keys
 * and bad values are errors that name the key.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { isRecord } from "./is_record.ts";

/** The kinds of value a setting can hold. */
export type SettingType = "string" | "integer" | "boolean" | "strings";

type ValueOf<T extends SettingType> = T extends "string" ? string
  : T extends "integer" ? number
  : T extends "boolean" ? boolean
  : string[];

/** One setting: its name in every source, type, default and help. */
export interface Setting<T extends SettingType = SettingType> {
  /** camelCase key in the config object and the config file. */
  readonly key: string;
  readonly type: T;
  /** Default value; undefined means "not set". */
  readonly default: ValueOf<T> | undefined;
  readonly help: string;
  /** Allowed values, for strings. */
  readonly choices?: readonly string[];
  /** Inclusive range, for integers. */
  readonly min?: number;
  readonly max?: number;
  /** Single-letter flag alias. */
  readonly short?: string;
}

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

/**
 * Remove `//` and `/* *\/` comments and trailing commas from JSONC, leaving
 * strings intact.
 *
 * @param text JSONC text.
 * @returns JSON text.
 */
export function stripJsonComments(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end === -1 ? text.length : end + 2;
    } else {
      out += c;
      i++;
    }
  }
  return out.replace(/,(\s*[}\]])/g, "$1");
}

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return `line ${line}, column ${offset - before.lastIndexOf("\n")}`;
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
      if (typeof raw === "string") {
        return raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
      }
      if (Array.isArray(raw) && raw.every((s) => typeof s === "string")) {
        return raw;
      }
      throw new ConfigError(
        `Invalid ${where}: expected a list of strings`,
        setting.key,
      );
    }
  }
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
export interface LoadedConfig {
  values: Record<string, unknown>;
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
 */
export function loadConfig(
  settings: readonly Setting[],
  sources: ConfigSources,
): LoadedConfig {
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
    throw new ConfigError(
      `Invalid command line: ${error instanceof Error ? error.message : error}`,
    );
  }
  const flags = parsed.values as Record<string, unknown>;
  const env = sources.env ?? {};
  const configPath = (flags["config"] as string | undefined) ??
    env["BANTER_CONFIG"];
  let file: Record<string, unknown> = {};
  if (configPath !== undefined) {
    if (!sources.readFile) throw new ConfigError("Cannot read config file");
    let text: string;
    try {
      text = sources.readFile(configPath);
    } catch (error) {
      throw new ConfigError(
        `Cannot read config file ${configPath}: ${error instanceof Error ? error.message : error}`,
        "config",
      );
    }
    let value: unknown;
    const json = stripJsonComments(text);
    try {
      value = JSON.parse(json);
    } catch (error) {
      // Never echo the parser's message: it quotes the file, secrets included.
      const at = /position (\d+)/.exec(error instanceof Error ? error.message : "");
      const where = at ? ` near ${lineAndColumn(json, Number(at[1]))}` : "";
      throw new ConfigError(
        `Cannot parse config file ${configPath}: not valid JSON${where}`,
        "config",
      );
    }
    if (!isRecord(value)) {
      throw new ConfigError(
        `Cannot parse config file ${configPath}: not a JSON object`,
        "config",
      );
    }
    file = value;
    const known = new Set(settings.map((s) => s.key));
    for (const key of Object.keys(file)) {
      if (!known.has(key)) {
        throw new ConfigError(`Unknown setting "${key}" in ${configPath}`, key);
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
      values[s.key] = s.default;
    }
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
    const def = s.default === undefined
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
