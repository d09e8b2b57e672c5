import { assertHelpListsEvery } from "../_settings_help.ts";
import { deepEqual, equal, match, throws } from "node:assert/strict";
import { CLIENT_SETTINGS, DEFAULT_CA, parseClientConfig } from "../../lib/client/settings.ts";
import { ConfigError, helpText } from "../../lib/util/config.ts";

/** A config file reader that knows one file. */
function oneFile(name: string, text: string): (path: string) => string {
  return (path) => {
    if (path !== name) throw new Deno.errors.NotFound(`No such file: ${path}`);
    return text;
  };
}

/** Whether `error` is a ConfigError about `key` whose message matches `pattern`. */
function isConfigError(key: string | undefined, pattern: RegExp): (error: unknown) => boolean {
  return (error) =>
    error instanceof ConfigError && error.key === key && pattern.test(error.message);
}

Deno.test("parseClientConfig() connects to the local dev server by default", () => {
  const { config, help } = parseClientConfig([]);
  equal(help, false);
  deepEqual({ ...config }, {
    host: "127.0.0.1",
    port: 9001,
    ca: undefined,
    cert: undefined,
    key: undefined,
    user: undefined,
    passwordFile: undefined,
    reconnect: true,
    maxReconnects: 20,
    bell: false,
  });
});

Deno.test("parseClientConfig() takes a flag over the environment over the file", () => {
  const { config } = parseClientConfig(
    ["--config", "client.jsonc", "--host", "flag.example.org"],
    { BANTER_HOST: "env.example.org", BANTER_PORT: "9443" },
    oneFile(
      "client.jsonc",
      '{\n  // where to chat\n  "host": "file.example.org",\n  "port": 1,\n  "user": "ada",\n}',
    ),
  );
  equal(config.host, "flag.example.org", "flag beats environment and file");
  equal(config.port, 9443, "environment beats file");
  equal(config.user, "ada", "file beats default");
});

Deno.test("parseClientConfig() turns reconnecting off with --no-reconnect or BANTER_RECONNECT", () => {
  equal(parseClientConfig(["--no-reconnect"]).config.reconnect, false);
  equal(parseClientConfig([], { BANTER_RECONNECT: "false" }).config.reconnect, false);
  equal(parseClientConfig(["--max-reconnects", "0"]).config.maxReconnects, 0);
});

Deno.test("parseClientConfig() refuses a bad port, naming the key and the source", () => {
  throws(
    () => parseClientConfig(["--port", "0"]),
    isConfigError("port", /^Invalid port \(from --port\): 0 is outside 1\.\.65535$/),
  );
  throws(
    () => parseClientConfig([], { BANTER_PORT: "chat" }),
    isConfigError("port", /^Invalid port \(from BANTER_PORT\): expected an integer$/),
  );
});

Deno.test("parseClientConfig() wants --cert and --key together", () => {
  throws(
    () => parseClientConfig(["--cert", "me.crt"]),
    isConfigError("key", /^--cert and --key go together$/),
  );
  throws(
    () => parseClientConfig(["--key", "me.key"]),
    isConfigError("cert", /^--cert and --key go together$/),
  );
  const { config } = parseClientConfig(["--cert", "me.crt", "--key", "me.key"]);
  equal(config.cert, "me.crt");
  equal(config.key, "me.key");
});

Deno.test("parseClientConfig() refuses a stray argument", () => {
  throws(
    () => parseClientConfig(["chat.example.org"]),
    isConfigError(undefined, /^Unexpected argument "chat\.example\.org"$/),
  );
});

Deno.test("parseClientConfig() reports --help whatever else is given", () => {
  equal(parseClientConfig(["--help", "stray", "--cert", "me.crt"]).help, true);
  equal(parseClientConfig(["-h"]).help, true);
});

Deno.test("helpText() lists every client setting with its flag, variable and default", () => {
  const text = helpText("Usage: banter-client", CLIENT_SETTINGS);
  assertHelpListsEvery(text, CLIENT_SETTINGS);
  match(text, new RegExp(`--ca VALUE\\n.*default: ${DEFAULT_CA} when present`));
  match(text, /--no-reconnect to exit.*BANTER_RECONNECT, default: true/);
});
