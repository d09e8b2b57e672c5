import { assertHelpListsEvery } from "../_settings_help.ts";
import { deepEqual, equal, match, ok, throws } from "node:assert/strict";
import {
  ConfigError,
  type ConfigSources,
  helpText,
  loadConfig,
  type Setting,
} from "../../lib/util/config.ts";
import { parseServerConfig, SERVER_SETTINGS } from "../../lib/server/settings.ts";

/** A config file reader that knows one file. */
function oneFile(name: string, text: string): (path: string) => string {
  return (path) => {
    if (path !== name) throw new Deno.errors.NotFound(`No such file: ${path}`);
    return text;
  };
}

/** The ConfigError thrown by `run`, checked to name `key`. */
function configError(run: () => unknown, key: string): ConfigError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  ok(caught instanceof ConfigError, `expected a ConfigError, got ${caught}`);
  equal(caught.key, key);
  ok(caught.message.includes(key), `"${caught.message}" names ${key}`);
  return caught;
}

Deno.test("parseServerConfig() takes a flag over the environment over the file over the default", () => {
  const file = oneFile(
    "banter.json",
    '{"httpPort": 9300, "historyLimit": 7, "jokeTimeoutMs": 900}',
  );
  const { config } = parseServerConfig(
    ["--config", "banter.json", "--http-port", "9100"],
    { BANTER_HTTP_PORT: "9200", BANTER_HISTORY_LIMIT: "8" },
    file,
  );
  equal(config.httpPort, 9100, "flag beats environment and file");
  equal(config.historyLimit, 8, "environment beats file");
  equal(config.jokeTimeoutMs, 900, "file beats default");
  equal(config.rateBurst, 10, "default when nothing sets it");
  equal(config.httpHostname, "127.0.0.1", "the HTTP endpoint binds loopback by default");
});

Deno.test("parseServerConfig() finds the config file through BANTER_CONFIG", () => {
  const { config } = parseServerConfig(
    [],
    { BANTER_CONFIG: "env.json" },
    oneFile("env.json", '{"smtpPort": 2525}'),
  );
  equal(config.smtpPort, 2525);
});

Deno.test("parseServerConfig() reads JSONC with comments and trailing commas", () => {
  const text = `{
    // the ops endpoint
    "httpPort": 9102, /* loopback only */
    "jokeUrl": "http://example.org/a//b", // a // inside a string stays
    "alertFrom": "banter@example.org",
    "alertTo": "admin@example.org",
    "smtpHost": "mail.example.org",
  }`;
  const { config } = parseServerConfig(["--config", "c.jsonc"], {}, oneFile("c.jsonc", text));
  equal(config.httpPort, 9102);
  equal(config.jokeUrl, "http://example.org/a//b");
  equal(config.smtpHost, "mail.example.org");
});

Deno.test("parseServerConfig() refuses an unknown key in the file, naming it", () => {
  configError(
    () => parseServerConfig(["--config", "c.json"], {}, oneFile("c.json", '{"httpPortt": 1}')),
    "httpPortt",
  );
});

Deno.test("parseServerConfig() refuses an unknown flag, naming it", () => {
  throws(() => parseServerConfig(["--metrics-port", "1"]), /metrics-port/);
});

Deno.test("parseServerConfig() refuses bad values, naming the key and the source", () => {
  const error = configError(() => parseServerConfig(["--http-port", "70000"]), "httpPort");
  match(error.message, /--http-port/);
  configError(() => parseServerConfig([], { BANTER_SMTP_PORT: "submission" }), "smtpPort");
  configError(
    () =>
      parseServerConfig(["--config", "c.json"], {}, oneFile("c.json", '{"smtpSecurity": "ssl"}')),
    "smtpSecurity",
  );
  configError(() => parseServerConfig(["--log-format", "xml"]), "logFormat");
});

Deno.test("parseServerConfig() needs both alert addresses once a mail server is set", () => {
  configError(
    () => parseServerConfig(["--smtp-host", "mail.example.org", "--alert-from", "b@example.org"]),
    "alertTo",
  );
  configError(
    () => parseServerConfig(["--smtp-host", "mail.example.org", "--alert-to", "a@example.org"]),
    "alertFrom",
  );
});

Deno.test("parseServerConfig() refuses an alert address that could inject headers", () => {
  configError(
    () => parseServerConfig([], { BANTER_ALERT_TO: "admin@example.org\r\nBcc: x@evil.example" }),
    "alertTo",
  );
  configError(() => parseServerConfig(["--alert-from", "not an address"]), "alertFrom");
});

Deno.test("parseServerConfig() refuses an SMTP password that would travel in clear", () => {
  configError(
    () =>
      parseServerConfig(["--smtp-user", "banter", "--smtp-security", "none"], {
        BANTER_SMTP_PASSWORD: "hunter2",
      }),
    "smtpSecurity",
  );
  configError(() => parseServerConfig(["--smtp-user", "banter"]), "smtpPassword");
});

Deno.test("parseServerConfig() error messages never echo the SMTP password", () => {
  const secret = "s3cret-Pa55";
  try {
    parseServerConfig(["--smtp-security", "none", "--smtp-user", "banter"], {
      BANTER_SMTP_PASSWORD: secret,
    });
  } catch (error) {
    ok(error instanceof ConfigError);
    ok(!error.message.includes(secret));
    return;
  }
  throw new Error("expected a ConfigError");
});

Deno.test("helpText() lists every server setting with its flag, variable and default", () => {
  const text = helpText("Usage: banter", SERVER_SETTINGS);
  assertHelpListsEvery(text, SERVER_SETTINGS);
  match(text, /--http-port N\n.*\(0: off\).*BANTER_HTTP_PORT, default: 9002/);
  match(text, /--config FILE/);
});

Deno.test("parseServerConfig() reports --help", () => {
  equal(parseServerConfig(["--help"]).help, true);
  equal(parseServerConfig([]).help, false);
});

Deno.test("parseServerConfig() reports broken JSON by position without quoting the file", () => {
  const text = '{\n  "smtpPassword": "hunter2-secret",\n  "port": 9001,,\n}';
  throws(
    () => parseServerConfig(["--config", "c.json"], {}, oneFile("c.json", text)),
    (error: unknown) =>
      error instanceof ConfigError &&
      /c\.json: not valid JSON/.test(error.message) &&
      !error.message.includes("hunter2"),
  );
});

Deno.test("parseServerConfig() keeps commas and brackets inside strings of the file", () => {
  const text = `{
    "smtpHost": "mail.example.org",
    "smtpUser": "banter",
    "smtpPassword": "pa,]ss",
    "alertFrom": "banter@example.org",
    "alertTo": "admin@example.org",
  }`;
  const { config } = parseServerConfig(["--config", "c.jsonc"], {}, oneFile("c.jsonc", text));
  equal(config.smtpPassword, "pa,]ss");
});

Deno.test("parseServerConfig() keeps comment markers inside strings of the file", () => {
  const text = '{"smtpUser": "a // b", "smtpPassword": "/* x */", /* a real comment */}';
  const { config } = parseServerConfig(
    ["--config", "c.jsonc", "--smtp-security", "tls"],
    {},
    oneFile("c.jsonc", text),
  );
  equal(config.smtpUser, "a // b");
  equal(config.smtpPassword, "/* x */");
});

Deno.test("parseServerConfig() names the file, line and column of a syntax error, never its text", () => {
  const text = '{\n  /* a\n  comment */ "smtpPassword": "hunter2-secret",\n  "port": 9001,,\n}';
  const error = configError(
    () => parseServerConfig(["--config", "c.json"], {}, oneFile("c.json", text)),
    "config",
  );
  match(
    error.message,
    /^Cannot parse config file c\.json: not valid JSON near line 4, column 16\b/,
  );
  ok(!error.message.includes("hunter2"), error.message);
  ok(!error.message.includes("9001"), error.message);
});

Deno.test("parseServerConfig() refuses a __proto__ key in the file as an unknown setting", () => {
  configError(
    () =>
      parseServerConfig(
        ["--config", "c.json"],
        {},
        oneFile("c.json", '{"__proto__": {"httpPort": 1}}'),
      ),
    "__proto__",
  );
});

Deno.test("parseServerConfig() refuses a config file that is not an object", () => {
  for (const text of ["[1, 2]", '"text"', ""]) {
    const error = configError(
      () => parseServerConfig(["--config", "c.json"], {}, oneFile("c.json", text)),
      "config",
    );
    match(error.message, /^Cannot parse config file c\.json: /);
  }
});

/** True when A and B are the same type; a mismatch fails type checking. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;

const TABLE = [
  { key: "port", type: "integer", default: 9001, help: "Port", min: 1 },
  { key: "mode", type: "string", default: "a", help: "Mode", choices: ["a", "b"] },
  { key: "name", type: "string", default: undefined, help: "Name" },
  { key: "verbose", type: "boolean", default: false, help: "Verbose" },
  { key: "tags", type: "strings", default: ["x"], help: "Tags" },
] as const satisfies readonly Setting[];

Deno.test("loadConfig() types each value from its setting: kind, literal choices, undefined without default", () => {
  const { values } = loadConfig(TABLE, { args: ["--mode", "b", "--tags", "p,q"] });
  const typed: Equal<typeof values, {
    port: number;
    mode: "a" | "b";
    name: string | undefined;
    verbose: boolean;
    tags: string[];
  }> = true;
  ok(typed);
  deepEqual({ ...values }, {
    port: 9001,
    mode: "b",
    name: undefined,
    verbose: false,
    tags: ["p", "q"],
  });
});

Deno.test("loadConfig() hands out a copy of a list default, never the table's own", () => {
  const { values } = loadConfig(TABLE, { args: [] });
  values.tags.push("y");
  deepEqual(loadConfig(TABLE, { args: [] }).values.tags, ["x"]);
});

Deno.test("loadConfig() refuses a table whose default does not fit its own setting", () => {
  const table = [
    { key: "mode", type: "string", default: "c", help: "Mode", choices: ["a", "b"] },
  ] as const satisfies readonly Setting[];
  throws(
    () => loadConfig(table, { args: [] }),
    (error: unknown) => error instanceof TypeError && error.message.includes("mode"),
  );
  equal(loadConfig(table, { args: ["--mode", "a"] }).values.mode, "a");
});

Deno.test("SERVER_SETTINGS names each setting once and leaves --config and --help free", () => {
  const keys: string[] = SERVER_SETTINGS.map((s) => s.key);
  equal(new Set(keys).size, keys.length);
  ok(!keys.some((k) => k === "config" || k === "help"));
});

Deno.test("loadConfig() refuses an empty list item and runs a setting's check on each item, naming the source", () => {
  const table = [
    {
      key: "tags",
      type: "strings",
      default: [],
      help: "Tags",
      check: (tag: string) => tag.startsWith("#") ? undefined : `"${tag}" lacks a #`,
    },
    {
      key: "name",
      type: "string",
      default: undefined,
      help: "Name",
      check: (name: string) => name.length <= 3 ? undefined : "longer than 3",
    },
  ] as const satisfies readonly Setting[];
  deepEqual(loadConfig(table, { args: ["--tags", "#a, #b", "--tags", "#c"] }).values.tags, [
    "#a",
    "#b",
    "#c",
  ]);
  const refuses = (sources: ConfigSources, pattern: RegExp) =>
    throws(
      () => loadConfig(table, sources),
      (error: unknown) => error instanceof ConfigError && pattern.test(error.message),
    );
  refuses({ args: ["--tags", "#a,"] }, /^Invalid tags \(from --tags\): an empty item in the list$/);
  refuses({ args: ["--tags", ""] }, /^Invalid tags \(from --tags\): an empty item in the list$/);
  refuses(
    { args: [], env: { BANTER_TAGS: "#a,b" } },
    /^Invalid tags \(from BANTER_TAGS\): "b" lacks a #$/,
  );
  refuses({ args: ["--name", "long"] }, /^Invalid name \(from --name\): longer than 3$/);
  equal(loadConfig(table, { args: ["--name", "abc"] }).values.name, "abc");
});
