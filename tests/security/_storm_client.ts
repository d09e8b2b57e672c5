/**
 * A login storm from several loopback source addresses, run as its own
 * process so it can hold the permission to bind them (the test runner may
 * only use 127.0.0.1). Usage:
 *
 *   _storm_client.ts PORT CA_FILE USER PASSWORD USER_SOURCE SOURCE...
 *
 * Each SOURCE opens one connection that sends one wrong login; once every
 * storm login is sent and the first is answered, USER logs in from
 * USER_SOURCE. Prints one line per answer in arrival order: `storm CODE` or
 * `user TYPE`; exits when all are answered.
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import net from "node:net";
import tls from "node:tls";

interface Frame {
  type: string;
  reason?: string;
  code?: string;
}

const [port = "", caFile = "", user = "", password = "", userSource = "", ...sources] = Deno.args;
const ca = await Deno.readTextFile(caFile);

/** Connect from `localAddress`, say hello, wait for `auth`. */
async function peer(localAddress: string) {
  const tcp = net.connect({ host: "127.0.0.1", port: Number(port), localAddress });
  const socket = tls.connect({ socket: tcp, servername: "localhost", ca });
  const frames: Frame[] = [];
  let wake: (() => void) | undefined;
  let buffered = "";
  socket.on("data", (chunk: Buffer) => {
    buffered += chunk.toString("utf8");
    for (let at = buffered.indexOf("\n"); at !== -1; at = buffered.indexOf("\n")) {
      frames.push(JSON.parse(buffered.slice(0, at)));
      buffered = buffered.slice(at + 1);
    }
    wake?.();
  });
  socket.on("error", () => wake?.());
  socket.on("close", () => wake?.());
  const next = async (match: (f: Frame) => boolean): Promise<Frame | undefined> => {
    for (;;) {
      const found = frames.find(match);
      if (found || socket.destroyed) return found;
      await new Promise<void>((resolve) => wake = resolve);
    }
  };
  const send = (frame: object) => socket.write(JSON.stringify(frame) + "\n");
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", () => resolve());
    socket.once("error", reject);
  });
  send({ type: "hello", version: 1 });
  await next((f) => f.type === "auth");
  return { send, next, close: () => socket.destroy() };
}

const answered = (f: Frame) => f.type === "auth_failed" || f.type === "bye" || f.type === "welcome";
const peers = [];
// A few handshakes at a time, as a patient attacker would.
for (let i = 0; i < sources.length; i += 10) {
  peers.push(...await Promise.all(sources.slice(i, i + 10).map(peer)));
}
const storm = peers.map(async (p, i) => {
  p.send({ type: "login", username: `storm${i}`, password: `wrong guess ${i}` });
  const answer = await p.next(answered);
  console.log(`storm ${answer?.reason ?? answer?.code ?? "closed"}`);
});
await Promise.race(storm);
const real = await peer(userSource);
real.send({ type: "login", username: user, password });
console.log(`user ${(await real.next(answered))?.type ?? "closed"}`);
await Promise.all(storm);
for (const p of [...peers, real]) p.close();
