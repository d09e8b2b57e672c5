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
  const { config, servers, help } = parseClientConfig([]);
  equal(help, false);
  deepEqual(servers, [{ hostname: "127.0.0.1", port: 9001 }]);
  deepEqual({ ...config }, {
    host: ["127.0.0.1"],
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
  deepEqual(config.host, ["flag.example.org"], "flag beats environment and file");
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

Deno.test("parseClientConfig() takes --host repeated, in order, each with its own port or --port", () => {
  const { servers } = parseClientConfig([
    "--host",
    "a.example.org",
    "--host",
    "b.example.org:9002",
    "--host",
    "[::1]:9003",
    "--host",
    "[fe80::1%eth0]",
    "--host",
    "::1",
    "--port",
    "9100",
  ]);
  deepEqual(servers, [
    { hostname: "a.example.org", port: 9100 },
    { hostname: "b.example.org", port: 9002 },
    { hostname: "::1", port: 9003 },
    { hostname: "fe80::1%eth0", port: 9100 },
    { hostname: "::1", port: 9100 },
  ]);
});

Deno.test("parseClientConfig() takes a list of servers from commas, BANTER_HOST or the config file", () => {
  deepEqual(parseClientConfig(["--host", "a, b:9002"]).servers, [
    { hostname: "a", port: 9001 },
    { hostname: "b", port: 9002 },
  ]);
  deepEqual(parseClientConfig([], { BANTER_HOST: "10.0.0.1:9443,10.0.0.2" }).servers, [
    { hostname: "10.0.0.1", port: 9443 },
    { hostname: "10.0.0.2", port: 9001 },
  ]);
  const file = oneFile("client.json", '{ "host": ["a", "[::1]:9443"], "port": 9500 }');
  deepEqual(parseClientConfig(["--config", "client.json"], {}, file).servers, [
    { hostname: "a", port: 9500 },
    { hostname: "::1", port: 9443 },
  ]);
  deepEqual(
    parseClientConfig(["--config", "client.json"], {}, oneFile("client.json", '{"host": "a:1"}'))
      .servers,
    [{ hostname: "a", port: 1 }],
  );
});

Deno.test("parseClientConfig() refuses a bad --host with the item, the reason and the source", () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [["--host", ""], {}, /^Invalid host \(from --host\): an empty item in the list$/],
    [
      ["--host", "a", "--host", " "],
      {},
      /^Invalid host \(from --host\): an empty item in the list$/,
    ],
    [["--host", "a:0"], {}, /^Invalid host \(from --host\): "a:0": port 0 is outside 1\.\.65535$/],
    [["--host", "a:65536"], {}, /^Invalid host \(from --host\): "a:65536": port 65536 is outside/],
    [
      ["--host", "[::1"],
      {},
      /^Invalid host \(from --host\): "\[::1": missing "]" after the IPv6 address$/,
    ],
    [
      ["--host", "[::1]9001"],
      {},
      /^Invalid host \(from --host\): "\[::1]9001": expected ":PORT" after "]"$/,
    ],
    [["--host", "[]"], {}, /"\[]": not an IPv6 address inside \[\.\.\.]$/],
    [["--host", "a:"], {}, /^Invalid host \(from --host\): "a:": missing port after ":"$/],
    [["--host", ":9001"], {}, /": missing host name before ":"$/],
    [["--host", "a:x"], {}, /^Invalid host \(from --host\): "a:x": port "x" is not a number$/],
    [["--host", "a b"], {}, /^Invalid host \(from --host\): "a b": not a host name or address$/],
    [["--host", "a/b"], {}, /"a\/b": not a host name or address$/],
    [["--host", "1:2:x"], {}, /"1:2:x": not a host name or address \(IPv6 with a port/],
    [[], { BANTER_HOST: "a,,b" }, /^Invalid host \(from BANTER_HOST\): an empty item in the list$/],
    [[], { BANTER_HOST: "a,b:0" }, /^Invalid host \(from BANTER_HOST\): "b:0": port 0/],
  ];
  for (const [args, env, pattern] of cases) {
    throws(() => parseClientConfig(args, env), isConfigError("host", pattern), args.join(" "));
  }
  throws(
    () => parseClientConfig(["--config", "c.json"], {}, oneFile("c.json", '{"host": []}')),
    isConfigError("host", /^Invalid host: no server given$/),
  );
  throws(
    () => parseClientConfig(["--config", "c.json"], {}, oneFile("c.json", '{"host": [1]}')),
    isConfigError("host", /^Invalid host \(from c\.json\): expected a list of strings$/),
  );
  const many = Array.from({ length: 33 }, (_, i) => `h${i}`).join(",");
  throws(
    () => parseClientConfig(["--host", many]),
    isConfigError("host", /^Invalid host: 33 servers given, at most 32$/),
  );
});

Deno.test("helpText() says --host may repeat and that --port is the default port", () => {
  const text = helpText("Usage: banter-client", CLIENT_SETTINGS);
  match(text, /--host VALUE\n.*repeat --host.*the first login tries each in turn/);
  match(text, /BANTER_HOST, default: 127\.0\.0\.1\n/);
  match(text, /--port N\n.*for each --host that names none/);
});
