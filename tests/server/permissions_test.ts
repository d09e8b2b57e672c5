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

/** The refusal message for `args` in a checkout at /home/u/banter, or the granted paths. */
function judged(args: string[]): string {
  const { config } = parseServerConfig(args, {}, () => "{}");
  try {
    const flags = serverPermissions(config, { cwd: "/home/u/banter", repoRoot: "/home/u/banter" });
    return flags.filter((f) => /^--allow-(read|write)=/.test(f)).join(" ");
  } catch (error) {
    if (!(error instanceof PermissionPathError)) throw error;
    return error.message;
  }
}

Deno.test("serverPermissions() refuses a write that would reach the checkout, outside data/, or the certificates", () => {
  const fix =
    "use a directory outside the checkout (or under its data/) that holds neither the code nor the certificates";
  const cases = [
    [
      ["--data", "."],
      `Cannot start with --data .: write access to /home/u/banter would reach the server's own code (/home/u/banter); ${fix}`,
    ],
    [
      ["--data", "/"],
      `Cannot start with --data /: write access to / would reach the server's own code (/home/u/banter); ${fix}`,
    ],
    [
      ["--credentials", "/home/u/creds.json"],
      `Cannot start with --credentials /home/u/creds.json: write access to /home/u would reach the server's own code (/home/u/banter); ${fix}`,
    ],
    [
      ["--credentials", "/home/u/banter/credentials.json"],
      `Cannot start with --credentials /home/u/banter/credentials.json: write access to /home/u/banter would reach the server's own code (/home/u/banter); ${fix}`,
    ],
    [
      ["--credentials", "certs/credentials.json"],
      `Cannot start with --credentials certs/credentials.json: write access to /home/u/banter/certs would reach the certificates and keys (/home/u/banter/certs); ${fix}`,
    ],
    [
      ["--data", "lib"],
      `Cannot start with --data lib: write access to /home/u/banter/lib would reach the checkout (/home/u/banter) outside data/; ${fix}`,
    ],
    [
      ["--certs-dir", "/etc/banter/certs", "--data", "/etc/banter"],
      `Cannot start with --data /etc/banter: write access to /etc/banter would reach the certificates and keys (/etc/banter/certs); ${fix}`,
    ],
  ] as const;
  for (const [args, expected] of cases) equal(judged([...args]), expected, args.join(" "));
});

Deno.test("serverPermissions() refuses a read path that covers the checkout or the certificates directory", () => {
  equal(
    judged(["--client-ca", "."]),
    "Cannot start with --client-ca .: read access to /home/u/banter would cover all of /home/u/banter, keys included; name the file itself",
  );
  equal(
    judged(["--cert", "certs"]),
    "Cannot start with --cert certs: read access to /home/u/banter/certs would cover all of /home/u/banter/certs, keys included; name the file itself",
  );
});

Deno.test("serverPermissions() still grants data/ and its subdirectories, and directories outside the checkout", () => {
  equal(
    judged(["--data", "data/chat", "--credentials", "/srv/accounts/credentials.json"]),
    "--allow-read=data/chat,/srv/accounts,certs/server_cert.pem,certs/server_key.pem,certs/ca.crt,credentials.json,web/dist --allow-write=data/chat,/srv/accounts",
  );
  equal(judged(["--data", "../banter-data"]).endsWith("--allow-write=../banter-data"), true);
});

Deno.test("serverPermissions() refuses a path with a comma", () => {
  throws(
    () => flagsFor(["--data=/srv/a,b"]),
    /Cannot start with \/srv\/a,b: a comma cannot go into a permission flag; rename it/,
  );
});
