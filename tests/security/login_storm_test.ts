/**
 * Issue 13 item 3: 100 wrong logins from 10 addresses, inside lockout
 * limits, made a real login wait for the whole storm (26 s of a 30 s
 * timeout): the hash slots were one first-come queue. Now each address has
 * at most one check in flight and slots go round robin between addresses,
 * so the real user waits for at most one attempt per storming address; the
 * queue is bounded and answers `bye busy` beyond it.
 *
 * @module
 */
import { join } from "node:path";
import { equal, ok } from "node:assert/strict";
import { FakeClock } from "../_fake_clock.ts";
import { within } from "../_helpers.ts";
import { passwordOf, startTestServer } from "../_server.ts";
import { Hasher, type VerifyResult } from "../../lib/auth/hash.ts";
import { Lockout } from "../../lib/auth/lockout.ts";
import { Authenticator, type LoginResult, LOGINS_BUSY_MESSAGE } from "../../lib/auth/login.ts";
import { CredentialStore } from "../../lib/auth/store.ts";
import { fixedRandom, GOOD_PASSWORD, tempDir, TEST_PARAMS } from "../auth/_helpers.ts";
import { CERT_FILES } from "../../lib/net/cert_files.ts";
import { CONFIG } from "../auth/_helpers.ts";

const ADDRESSES = 10;
const PER_ADDRESS = 10;

/** A hasher whose checks finish only when the test says, in start order. */
class GatedHasher extends Hasher {
  readonly started: string[] = [];
  #gates: (() => void)[] = [];
  #waiters: { count: number; resolve: () => void }[] = [];
  #open = false;
  constructor() {
    super({ params: TEST_PARAMS });
  }
  override async verify(password: string, stored: string): Promise<VerifyResult> {
    await this.#gate(password);
    return await super.verify(password, stored);
  }
  override async verifyDummy(password: string): Promise<VerifyResult> {
    await this.#gate(password);
    return await super.verifyDummy(password);
  }
  /** Resolves once `count` checks have started. */
  whenStarted(count: number): Promise<void> {
    if (this.started.length >= count) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push({ count, resolve });
    return promise;
  }
  /** Let the oldest started check finish. */
  releaseOne(): void {
    this.#gates.shift()?.();
  }
  /** Let every check through from now on. */
  open(): void {
    this.#open = true;
    for (const gate of this.#gates.splice(0)) gate();
  }
  #gate(password: string): Promise<void> {
    this.started.push(password);
    for (const waiter of this.#waiters.filter((w) => this.started.length >= w.count)) {
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
    if (this.#open) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#gates.push(resolve);
    return promise;
  }
}

/** Resolve once `condition()` holds, checking after each macrotask. */
async function until(condition: () => boolean, what: string): Promise<void> {
  await within(
    (async () => {
      while (!condition()) await new Promise((resolve) => setTimeout(resolve, 0));
    })(),
    5_000,
    what,
  );
}

async function authenticator(dir: string, options: { maxQueuedPerAddress?: number } = {}) {
  const clock = new FakeClock();
  const hasher = new GatedHasher();
  hasher.open();
  const store = await CredentialStore.open(`${dir}/credentials.json`, {
    hasher,
    random: fixedRandom(),
    clock,
  });
  await store.add("alice", GOOD_PASSWORD);
  const gated = new GatedHasher();
  const lockout = await Lockout.open(`${dir}/data/lockout.json`, { clock });
  const auth = new Authenticator({
    store,
    hasher: gated,
    lockout,
    clock,
    maxConcurrent: 1,
    maxQueuedPerAddress: options.maxQueuedPerAddress ?? PER_ADDRESS,
    onError: (error) => {
      throw error;
    },
    onLockout: () => {},
  });
  return { auth, hasher: gated };
}

function storm(auth: Authenticator): Promise<LoginResult>[] {
  const logins: Promise<LoginResult>[] = [];
  for (let i = 0; i < PER_ADDRESS; i++) {
    for (let a = 0; a < ADDRESSES; a++) {
      logins.push(auth.login({
        username: `storm${a}n${i}`,
        password: `storm ${a} ${i}`,
        ip: `203.0.113.${a + 1}`,
      }));
    }
  }
  return logins;
}

Deno.test("login storm: the real user is checked after at most one attempt per storming address", async () => {
  await using dir = await tempDir();
  const { auth, hasher } = await authenticator(dir.path);
  const attacks = storm(auth);
  await until(() => auth.queued === ADDRESSES * PER_ADDRESS - 1, "the storm is queued");
  const owner = auth.login({ username: "alice", password: GOOD_PASSWORD, ip: "198.51.100.7" });
  await until(() => auth.queued === ADDRESSES * PER_ADDRESS, "the owner is queued");
  let position = 0;
  for (let served = 1; served <= ADDRESSES * PER_ADDRESS + 1; served++) {
    await within(hasher.whenStarted(served), 5_000, `check ${served}`);
    if (hasher.started[served - 1] === GOOD_PASSWORD) {
      position = served;
      break;
    }
    hasher.releaseOne();
  }
  hasher.open();
  equal((await owner).ok, true);
  // The one running when the owner came, then one per other address.
  ok(position >= 1 && position <= ADDRESSES + 1, `the owner was check number ${position}`);
  const results = await Promise.all(attacks);
  equal(results.every((r) => !r.ok && r.reason === "invalid"), true);
});

Deno.test("login storm: past the per-address bound logins are answered busy, unchecked", async () => {
  await using dir = await tempDir();
  const { auth, hasher } = await authenticator(dir.path, { maxQueuedPerAddress: 4 });
  const attacks = storm(auth);
  await until(() => auth.queued === ADDRESSES * 4, "the queue is full");
  hasher.open();
  const results = await Promise.all(attacks);
  const busy = results.filter((r) => !r.ok && r.reason === "busy");
  // One slot: one running in all, four waiting per address, the rest refused.
  equal(hasher.started.length, 1 + ADDRESSES * 4);
  equal(busy.length, ADDRESSES * PER_ADDRESS - (1 + ADDRESSES * 4));
  ok(busy.every((r) => !r.ok && r.reason === "busy" && r.message === LOGINS_BUSY_MESSAGE));
});

Deno.test("login storm over TLS: a real user logs in long before a 10-address storm of 50 is through", async () => {
  // Hashes slow enough (scrypt 2^13, 8 MiB) that 50 wrong logins queue up.
  const perAddress = 5;
  await using s = await startTestServer({
    users: ["alice"],
    config: { scryptLogN: 13, loginQueuePerAddress: perAddress, maxConnectionsPerIp: 200 },
  });
  const sources = Array.from({ length: ADDRESSES }, (_, a) => `127.0.0.${10 + a}`);
  const storm = Array.from({ length: ADDRESSES * perAddress }, (_, i) => sources[i % ADDRESSES]!);
  const client = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--config",
      CONFIG,
      `--allow-read=${s.dir}`,
      `--allow-net=127.0.0.1,127.0.0.2,${sources.join(",")}`,
      new URL("./_storm_client.ts", import.meta.url).pathname,
      String(s.port),
      join(s.dir, "certs", CERT_FILES.caCert),
      "alice",
      passwordOf("alice"),
      "127.0.0.2",
      ...storm,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const { code, stdout, stderr } = await within(client, 30_000, "the storm client");
  equal(code, 0, new TextDecoder().decode(stderr));
  const lines = new TextDecoder().decode(stdout).trim().split("\n");
  equal(lines.length, storm.length + 1, lines.join("\n"));
  equal(lines.filter((l) => l === "storm invalid").length, storm.length);
  const before = lines.indexOf("user welcome");
  ok(before !== -1, "the user got in");
  // Fair: about one attempt per storming address (and the slots' worth
  // running) before her, not the whole storm of 50.
  console.log(`${before} of ${storm.length} storm answers came before the user's welcome`);
  ok(before <= 2 * ADDRESSES, `${before} storm answers came before the user's welcome`);
});
