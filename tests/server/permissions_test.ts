import { deepEqual, equal, throws } from "node:assert/strict";
import { PermissionPathError, serverPermissions } from "../../lib/server/permissions.ts";
import { parseServerConfig } from "../../lib/server/settings.ts";

/** The derived flags for `args`, by flag name. */
function flagsFor(args: string[], configFile?: string): Record<string, string> {
  const { config } = parseServerConfig(args, {}, () => "{}");
  const flags = serverPermissions(config, { cwd: "/opt/banter", configFile });
  return Object.fromEntries(flags.map((flag) => {
    const [name = "", value = ""] = flag.split(/=(.*)/s);
    return [name, value];
  }));
}

Deno.test("serverPermissions() for the default settings is the narrow set the task always had, plus the web bundle", () => {
  deepEqual(flagsFor([]), {
    "--allow-net": "127.0.0.1,localhost,official-joke-api.appspot.com",
    "--allow-read":
      "data,certs/server_cert.pem,certs/server_key.pem,certs/ca.crt,credentials.json,web/dist",
    "--allow-write": "data",
    "--no-prompt": "",
    "--allow-env": "BANTER_*,NO_COLOR,TERM",
    "--allow-sys": "statfs",
  });
});

Deno.test("serverPermissions() follows every configured path and address, and only those", () => {
  const flags = flagsFor([
    "--config=/etc/banter.jsonc",
    "--data=/srv/banter",
    "--credentials=/etc/banter/accounts.json",
    "--cert=/etc/tls/chat.pem",
    "--key=/etc/tls/chat.key",
    "--client-ca=/etc/tls/clients.pem",
    "--hostname=::",
    "--http-port=0",
    "--joke-url=https://jokes.example:8443/random",
    "--smtp-host=mail.example",
    "--alert-from=banter@example.org",
    "--alert-to=ops@example.org",
  ], "/etc/banter.jsonc");
  equal(flags["--allow-write"], "/srv/banter,/etc/banter");
  equal(
    flags["--allow-read"],
    "/etc/banter.jsonc,/srv/banter,/etc/banter,/etc/tls/chat.pem,/etc/tls/chat.key,certs/ca.crt,credentials.json,web/dist,/etc/tls/clients.pem",
  );
  equal(
    flags["--allow-net"],
    "[::],127.0.0.1,jokes.example:8443,mail.example:587",
    "no ops endpoint when off; loopback for the web port's relay",
  );
  equal(
    flagsFor(["--hostname=192.0.2.1", "--http-port=0", "--web-port=0"])["--allow-net"],
    "192.0.2.1,official-joke-api.appspot.com",
    "no loopback when the web port is off too",
  );
});

Deno.test("serverPermissions() refuses a credentials file in the working directory and a path with a comma", () => {
  throws(
    () => flagsFor(["--credentials=/opt/banter/credentials.json"]),
    (error: Error) =>
      error instanceof PermissionPathError &&
      error.message.startsWith(
        "Cannot start with --credentials /opt/banter/credentials.json: it is in the working directory",
      ),
  );
  throws(
    () => flagsFor(["--data=/srv/a,b"]),
    /Cannot start with \/srv\/a,b: a comma cannot go into a permission flag; rename it/,
  );
});
