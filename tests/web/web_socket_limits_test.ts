import { deepEqual, equal } from "node:assert/strict";
import { join } from "node:path";
import { startWebServer } from "../_browser.ts";
import { passwordOf } from "../_server.ts";
import { tempDir } from "../_helpers.ts";
import { CLOSE_MESSAGE_TOO_BIG } from "../../lib/net/websocket_connection.ts";

/** A WebSocket client in its own process (it trusts the test CA with --cert), as a script. */
const CLIENT = `
const [port, user, password, when, kib] = Deno.args;
const origin = "https://localhost:" + port;
const ws = new WebSocket("wss://localhost:" + port + "/ws", { headers: { origin } });
const seen = [];
const big = JSON.stringify({ type: "say", id: 7, text: "x".repeat(Number(kib) * 1024) });
ws.onmessage = (e) => {
  const frame = JSON.parse(e.data);
  seen.push(frame.type === "error" || frame.type === "bye" ? frame.type + ":" + frame.code : frame.type);
  if (frame.type === "hello") ws.send(JSON.stringify({ type: "hello", version: 2 }));
  if (frame.type === "auth") {
    if (when === "before") ws.send(big);
    else ws.send(JSON.stringify({ type: "login", username: user, password }));
  }
  if (frame.type === "welcome") ws.send(big);
};
ws.onclose = (e) => {
  console.log(JSON.stringify({ seen, code: e.code }));
};
`;

async function runClient(dir: string, ca: string, args: string[]) {
  const script = join(dir, "ws_client.ts");
  await Deno.writeTextFile(script, CLIENT);
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-lock", "--quiet", `--cert=${ca}`, "--allow-net=localhost", script, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return JSON.parse(new TextDecoder().decode(output.stdout)) as { seen: string[]; code: number };
}

Deno.test("through the web port, a 20 KiB WebSocket message closes with 1009 before login and reaches the parser after", async () => {
  await using s = await startWebServer({ users: ["alice"] });
  await using dir = await tempDir();
  const ca = join(s.dir, "certs", "ca.crt");
  const port = String(s.server.webAddr!.port);
  const before = await runClient(dir.path, ca, [
    port,
    "alice",
    passwordOf("alice"),
    "before",
    "20",
  ]);
  equal(before.code, CLOSE_MESSAGE_TOO_BIG);
  deepEqual(before.seen, ["hello", "auth"]);
  const after = await runClient(dir.path, ca, [port, "alice", passwordOf("alice"), "after", "20"]);
  // After login the frame reaches the parser (whose text limit refuses it), not the 1009 cap.
  deepEqual(
    after.seen.slice(-2),
    ["error:invalid_field", "bye:protocol_error"],
    JSON.stringify(after),
  );
  equal(after.seen.includes("welcome"), true);
  equal(after.code === CLOSE_MESSAGE_TOO_BIG, false);
});

Deno.test("through the web port, a WebSocket message over the frame cap is cut at its header", async () => {
  await using s = await startWebServer({ users: ["alice"] });
  await using dir = await tempDir();
  const ca = join(s.dir, "certs", "ca.crt");
  const port = String(s.server.webAddr!.port);
  // 8 MiB after login, over the 64 KiB frame cap: the relay ends the
  // connection before Deno reads the message, so no error frame comes back.
  const cut = await runClient(dir.path, ca, [port, "alice", passwordOf("alice"), "after", "8192"]);
  equal(cut.seen.includes("welcome"), true);
  equal(cut.seen.some((type) => type.startsWith("error")), false, JSON.stringify(cut));
  equal([0, 1006].includes(cut.code), true, `closed without a close frame: ${JSON.stringify(cut)}`);
});
