import { deepEqual, equal, match, throws } from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import bcrypt from "bcryptjs";
import {
  DEFAULT_SCRYPT_PARAMS,
  Hasher,
  type Kdf,
  KEY_BYTES,
  SALT_BYTES,
} from "../../lib/auth/hash.ts";
import { nodeKdf } from "../../lib/auth/_kdf.ts";
import { Semaphore } from "../../lib/auth/_semaphore.ts";
import { fixedRandom, TEST_PARAMS, testHasher } from "./_helpers.ts";

const PHC = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

Deno.test("Hasher hashes with the shipped defaults: ln=17, r=8, p=1", async () => {
  deepEqual(DEFAULT_SCRYPT_PARAMS, { logN: 17, r: 8, p: 1 });
  const hasher = new Hasher();
  const stored = await hasher.hash("correct horse battery");
  const [, ln, r, p, salt = "", key = ""] = PHC.exec(stored) ?? [];
  deepEqual([ln, r, p], ["17", "8", "1"]);
  equal(Buffer.from(salt, "base64").length, SALT_BYTES);
  equal(Buffer.from(key, "base64").length, KEY_BYTES);
  deepEqual(await hasher.verify("correct horse battery", stored), {
    ok: true,
    needsRehash: false,
  });
});

Deno.test("Hasher.verify() accepts the right password and rejects others", async () => {
  const hasher = testHasher();
  const stored = await hasher.hash("pässwörd ünïcode");
  match(stored, /^\$scrypt\$ln=10,r=8,p=1\$/);
  deepEqual(await hasher.verify("pässwörd ünïcode", stored), {
    ok: true,
    needsRehash: false,
  });
  for (const wrong of ["pässwörd ünïcodf", "", "pässwörd ünïcode "]) {
    deepEqual(await hasher.verify(wrong, stored), {
      ok: false,
      needsRehash: false,
    });
  }
});

Deno.test("Hasher.hash() salts every hash differently", async () => {
  const hasher = testHasher();
  const [a, b] = await Promise.all([hasher.hash("same"), hasher.hash("same")]);
  equal(a === b, false);
});

Deno.test("Hasher.hash() takes its salt from the injected Random", async () => {
  const hasher = testHasher({ random: fixedRandom(0) });
  const salt = PHC.exec(await hasher.hash("x"))?.[4] ?? "";
  deepEqual(
    [...Buffer.from(salt, "base64")],
    Array.from({ length: SALT_BYTES }, (_, i) => i),
  );
});

Deno.test("Hasher.verify() flags hashes with other parameters, weaker or stronger, for rehash", async () => {
  const weak = await new Hasher({ params: { logN: 10, r: 8, p: 1 } }).hash(
    "pw",
  );
  const strong = new Hasher({ params: { logN: 11, r: 8, p: 1 } });
  deepEqual(await strong.verify("pw", weak), { ok: true, needsRehash: true });
  const wider = new Hasher({ params: { logN: 10, r: 8, p: 2 } });
  deepEqual(await wider.verify("pw", weak), { ok: true, needsRehash: true });
  const stronger = await strong.hash("pw");
  deepEqual(await testHasher().verify("pw", stronger), {
    ok: true,
    needsRehash: true,
  });
  deepEqual(await strong.verify("pw", stronger), { ok: true, needsRehash: false });
});

Deno.test("Hasher.wrap() puts SHA-256 and bcrypt hashes inside scrypt; the old passwords still match", async () => {
  const hasher = testHasher();
  const legacy = [
    ["sha pass", sha256Hex("sha pass")],
    ["bcrypt pass", bcrypt.hashSync("bcrypt pass", 4)],
    ["2y pass", bcrypt.hashSync("2y pass", 4).replace(/^\$2b\$/, "$2y$")],
  ] as const;
  for (const [password, stored] of legacy) {
    const wrapped = await hasher.wrap(stored) ?? "";
    match(
      wrapped,
      /^\$scrypt-wrapped\$ln=10,r=8,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+\$(sha256|bcrypt\$2[by]\$04\$.{22})$/,
    );
    equal(wrapped.includes(stored.slice(29)), false, "the legacy hash is not kept");
    deepEqual(await hasher.verify(password, wrapped), { ok: true, needsRehash: true });
    deepEqual(await hasher.verify(`${password}!`, wrapped), { ok: false, needsRehash: false });
  }
  equal(await hasher.wrap(await hasher.hash("pw")), undefined);
  equal(await hasher.wrap("garbage"), undefined);
  const wrapped = await hasher.wrap(sha256Hex("x")) ?? "";
  equal(await hasher.wrap(wrapped), undefined, "wrapped hashes are not wrapped again");
  for (
    const broken of [
      wrapped.replace("sha256", "md5"),
      `${wrapped}$`,
      wrapped.replace("ln=10", "ln=99"),
    ]
  ) {
    deepEqual(await hasher.verify("x", broken), { ok: false, needsRehash: false });
  }
});

Deno.test("Hasher.equalise() makes every attempt do each step the stored hashes need", async () => {
  const steps: string[] = [];
  const kdf: Kdf = {
    scrypt: (password, salt, params, keyLength) => {
      steps.push(`scrypt ${params.logN}`);
      return nodeKdf.scrypt(password, salt, params, keyLength);
    },
    bcrypt: (password, setting) => {
      steps.push(`bcrypt ${setting.slice(4, 6)}`);
      return nodeKdf.bcrypt(password, setting);
    },
    sha256: (password) => {
      steps.push("sha256");
      return nodeKdf.sha256(password);
    },
  };
  const hasher = testHasher({ kdf });
  deepEqual(hasher.stepsPerAttempt, ["scrypt ln=10,r=8,p=1"]);
  const other = await new Hasher({ params: { logN: 11, r: 8, p: 1 } }).hash("pw");
  const stored = [other, sha256Hex("pw"), bcrypt.hashSync("pw", 5), "garbage"];
  hasher.equalise(stored);
  deepEqual(hasher.stepsPerAttempt, [
    "bcrypt 5",
    "scrypt ln=10,r=8,p=1",
    "scrypt ln=11,r=8,p=1",
    "sha256",
  ]);
  const expected = ["bcrypt 05", "scrypt 10", "scrypt 11", "sha256"];
  for (const hash of [...stored, undefined]) {
    steps.length = 0;
    if (hash === undefined) await hasher.verifyDummy("wrong");
    else await hasher.verify("wrong", hash);
    deepEqual(steps.toSorted(), expected, String(hash));
  }
  hasher.equalise([]);
  deepEqual(hasher.stepsPerAttempt, ["scrypt ln=10,r=8,p=1"]);
});

Deno.test("Hasher.verify() accepts legacy SHA-256 hex digests and asks for rehash", async () => {
  const hasher = testHasher();
  const digest = sha256Hex("hunter2 is my password");
  deepEqual(await hasher.verify("hunter2 is my password", digest), {
    ok: true,
    needsRehash: true,
  });
  deepEqual(
    await hasher.verify("hunter2 is my password", digest.toUpperCase()),
    { ok: true, needsRehash: true },
  );
  equal((await hasher.verify("hunter3 is my password", digest)).ok, false);
});

Deno.test("Hasher.verify() accepts bcrypt $2a$, $2b$ and $2y$ and asks for rehash", async () => {
  const hasher = testHasher();
  const stored = bcrypt.hashSync("open sesame 123", 4);
  for (const prefix of ["$2a$", "$2b$", "$2y$"]) {
    const variant = prefix + stored.slice(4);
    deepEqual(await hasher.verify("open sesame 123", variant), {
      ok: true,
      needsRehash: true,
    });
    equal((await hasher.verify("open sesame 124", variant)).ok, false);
  }
});

Deno.test("Hasher.verify() rejects malformed or hostile hashes without throwing", async () => {
  const hasher = testHasher();
  const good = await hasher.hash("pw");
  const [, , , , salt = "", key = ""] = PHC.exec(good) ?? [];
  const bad = [
    "",
    "plain text password",
    "$scrypt$",
    `$scrypt$ln=10,r=8$${salt}$${key}`,
    `$scrypt$ln=10,r=8,p=1$${salt}`,
    `$scrypt$ln=10,r=8,p=1$${salt}$${key}=`,
    `$scrypt$ln=10,r=8,p=1$${salt}$${key}$extra`,
    `$scrypt$ln=10,r=8,p=1$${salt.slice(0, 5)}$${key}`,
    `$scrypt$ln=10,r=8,p=1$${salt}$${key.slice(0, 8)}`,
    `$scrypt$ln=10,r=8,p=1$${salt}$${key.slice(0, -1)}!`,
    `$scrypt$ln=0,r=8,p=1$${salt}$${key}`,
    // Would need 128 GiB: refused before any work.
    `$scrypt$ln=30,r=8,p=1$${salt}$${key}`,
    `$scrypt$ln=20,r=999,p=1$${salt}$${key}`,
    `$scrypt$ln=10,r=8,p=999$${salt}$${key}`,
    `$SCRYPT$ln=10,r=8,p=1$${salt}$${key}`,
    "$2b$99$" + "a".repeat(53),
    "$2b$03$" + "a".repeat(53),
    "$2b$04$" + "a".repeat(52),
    "$2x$04$" + "a".repeat(53),
    "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
    "a".repeat(63),
    "g".repeat(64),
  ];
  for (const stored of bad) {
    deepEqual(await hasher.verify("pw", stored), {
      ok: false,
      needsRehash: false,
    }, stored);
  }
  const notString = 42 as unknown as string;
  equal((await hasher.verify("pw", notString)).ok, false);
});

Deno.test("Hasher.verify() pays for a full scrypt on fast paths (SHA-256, malformed, dummy)", async () => {
  // With one slot, each call that does real work occupies it at once.
  for (const stored of [sha256Hex("other"), "garbage", undefined]) {
    const hasher = testHasher({ maxConcurrent: 1 });
    const pending = stored === undefined ? hasher.verifyDummy("pw") : hasher.verify("pw", stored);
    equal(hasher.active, 1, String(stored));
    deepEqual(await pending, { ok: false, needsRehash: false });
  }
});

Deno.test("Hasher.verifyDummy() never matches", async () => {
  const hasher = testHasher();
  deepEqual(await hasher.verifyDummy(""), { ok: false, needsRehash: false });
  deepEqual(await hasher.verifyDummy("anything"), {
    ok: false,
    needsRehash: false,
  });
});

Deno.test("Hasher with maxConcurrent 1 starts the second hash after the first", async () => {
  const hasher = testHasher({ maxConcurrent: 1 });
  const first = hasher.hash("one");
  const second = hasher.hash("two");
  deepEqual([hasher.active, hasher.waiting], [1, 1]);
  await first;
  deepEqual([hasher.active, hasher.waiting], [1, 0]);
  await second;
  deepEqual([hasher.active, hasher.waiting], [0, 0]);
});

Deno.test("Hasher hashes off the event loop: timers fire while scrypt runs", async () => {
  const hasher = new Hasher({ params: { logN: 15, r: 8, p: 1 } });
  const events: string[] = [];
  const timer = new Promise<void>((resolve) =>
    setTimeout(() => {
      events.push("timer");
      resolve();
    }, 0)
  );
  await hasher.hash("pw").then(() => events.push("hash"));
  await timer;
  deepEqual(events, ["timer", "hash"]);
});

Deno.test("Hasher rejects out-of-range options up front", () => {
  throws(() => new Hasher({ params: { logN: 31, r: 8, p: 1 } }), RangeError);
  throws(() => new Hasher({ params: { logN: 17, r: 0, p: 1 } }), RangeError);
  throws(() => new Hasher({ params: { logN: 22, r: 8, p: 1 } }), RangeError);
  throws(
    () => new Hasher({ params: TEST_PARAMS, maxConcurrent: 0 }),
    RangeError,
  );
});

Deno.test("Semaphore runs waiting tasks in arrival order", async () => {
  const slots = new Semaphore(2);
  const order: number[] = [];
  const releases: (() => void)[] = [];
  const tasks = [0, 1, 2, 3].map((i) =>
    slots.run(async () => {
      order.push(i);
      await new Promise<void>((resolve) => releases.push(resolve));
    })
  );
  deepEqual([order, slots.active, slots.waiting], [[0, 1], 2, 2]);
  releases[1]?.();
  await Promise.resolve(tasks[1]);
  deepEqual(order, [0, 1, 2]);
  releases[0]?.();
  await tasks[0];
  deepEqual(order, [0, 1, 2, 3]);
  releases[2]?.();
  releases[3]?.();
  await Promise.all(tasks);
  deepEqual([slots.active, slots.waiting], [0, 0]);
});
