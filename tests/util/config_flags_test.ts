import { equal, throws } from "node:assert/strict";
import { parseClientConfig } from "../../lib/client/settings.ts";
import { parseServerConfig } from "../../lib/server/settings.ts";
import { ConfigError } from "../../lib/util/config.ts";
import { editDistance, nearest } from "../../lib/util/nearest.ts";

/** The message of the ConfigError `run` throws. */
function messageOf(run: () => unknown): string {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  if (!(caught instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${caught}`);
  return caught.message;
}

Deno.test("editDistance() counts insertions, deletions and substitutions", () => {
  equal(editDistance("", ""), 0);
  equal(editDistance("host", "host"), 0);
  equal(editDistance("hots", "host"), 2);
  equal(editDistance("prt", "port"), 1);
  equal(editDistance("kitten", "sitting"), 3);
  equal(editDistance("", "abc"), 3);
});

Deno.test("nearest() picks the closest candidate within two edits, the first on a tie", () => {
  equal(nearest("hots", ["port", "host"]), "host");
  equal(nearest("pot", ["port", "post"]), "port");
  equal(nearest("colour", ["port", "host"]), undefined);
  equal(nearest("abc", ["abcde"], 1), undefined);
});

Deno.test("the client's unknown flag suggests the nearest known one", () => {
  equal(
    messageOf(() => parseClientConfig(["--hots", "x"])),
    "Unknown flag --hots: did you mean --host?",
  );
  equal(
    messageOf(() => parseClientConfig(["--hots=x"])),
    "Unknown flag --hots: did you mean --host?",
  );
  equal(
    messageOf(() => parseClientConfig(["--port", "1", "--pasword-file", "pw.txt"])),
    "Unknown flag --pasword-file: did you mean --password-file?",
  );
  equal(
    messageOf(() => parseClientConfig(["--no-reconect"])),
    "Unknown flag --no-reconect: did you mean --no-reconnect?",
  );
});

Deno.test("an unknown flag far from every known one gets no suggestion", () => {
  equal(messageOf(() => parseClientConfig(["--colourful"])), "Unknown flag --colourful");
  equal(messageOf(() => parseClientConfig(["-x"])), "Unknown flag -x");
});

Deno.test("a known flag without its value is still reported as such", () => {
  equal(
    messageOf(() => parseClientConfig(["--port"])),
    "Invalid command line: Option '--port <value>' argument missing",
  );
});

Deno.test("the server's unknown flag suggests the nearest known one", () => {
  equal(
    messageOf(() => parseServerConfig(["--http-prot", "8080"])),
    "Unknown flag --http-prot: did you mean --http-port?",
  );
  throws(() => parseServerConfig(["--prot", "1"]), /did you mean --port\?/);
});

Deno.test("an unknown key in the config file suggests the nearest setting", () => {
  const file = () => JSON.stringify({ hots: "chat.example.org" });
  equal(
    messageOf(() => parseClientConfig(["--config", "client.json"], {}, file)),
    'Unknown setting "hots" in client.json: did you mean "host"?',
  );
});

Deno.test("a config file that is not there is named, without an OS error code", () => {
  const missing = () => {
    throw new Deno.errors.NotFound("No such file or directory (os error 2): readfile 'gone.json'");
  };
  equal(
    messageOf(() => parseClientConfig(["--config", "gone.json"], {}, missing)),
    "Cannot read config file gone.json: no such file",
  );
});
