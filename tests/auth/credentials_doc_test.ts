/**
 * docs/CREDENTIALS.md against the code: its example file loads with the
 * real store reader, each hash is of the form the page says and checks the
 * page's password, and the numbers it states are the code's.
 *
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { DEFAULT_SCRYPT_PARAMS, Hasher, KEY_BYTES, SALT_BYTES } from "../../lib/auth/hash.ts";
import { parseStoredHash } from "../../lib/auth/_stored_hash.ts";
import { ACCOUNT_ID_BYTES, CREDENTIALS_VERSION, CredentialStore } from "../../lib/auth/store.ts";
import { tempDir } from "./_helpers.ts";

const DOC = new URL("../../docs/CREDENTIALS.md", import.meta.url);
const PASSWORD = "correct horse battery staple";

async function exampleFile(): Promise<string> {
  const text = await Deno.readTextFile(DOC);
  const blocks = [...text.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!);
  equal(blocks.length, 1, "one JSON example");
  return blocks[0]!;
}

Deno.test("the example in docs/CREDENTIALS.md loads with the store, every hash checks its password, and is written back as shown", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "credentials.json");
  const example = await exampleFile();
  await Deno.writeTextFile(path, example, { mode: 0o600 });
  const hasher = new Hasher();
  const store = await CredentialStore.open(path, { hasher, createIfMissing: false });
  deepEqual(store.list(), [
    { name: "admin", role: "admin" },
    { name: "alice", role: "user" },
    { name: "bob", role: "user" },
    { name: "carol", role: "user" },
    { name: "dave", role: "user" },
  ]);
  const kinds = ["scrypt", "wrapped", "wrapped", "sha256", "bcrypt"];
  for (const [i, { name }] of store.list().entries()) {
    const entry = store.get(name)!;
    equal(entry.id.length, 22, `${name}'s id is 16 bytes of base64url`);
    const parsed = parseStoredHash(entry.hash);
    equal(parsed.kind, kinds[i], `${name}'s hash form`);
    if (parsed.kind === "scrypt" || parsed.kind === "wrapped") {
      deepEqual(parsed.params, DEFAULT_SCRYPT_PARAMS);
      equal(parsed.salt.length, SALT_BYTES);
      equal(parsed.key.length, KEY_BYTES);
    }
    const verdict = await hasher.verify(PASSWORD, entry.hash);
    deepEqual(verdict, { ok: true, needsRehash: kinds[i] !== "scrypt" }, `${name}'s password`);
  }
  // A change writes the file back in the documented layout and mode.
  await store.setRole("dave", "admin");
  await store.setRole("dave", "user");
  equal(await Deno.readTextFile(path), example);
  equal((await Deno.stat(path)).mode! & 0o777, 0o600);
});

Deno.test("docs/CREDENTIALS.md states the code's scrypt parameters, sizes and version", async () => {
  const text = await Deno.readTextFile(DOC);
  equal(CREDENTIALS_VERSION, 2);
  ok(text.includes("| `version` | `2`, the version written."));
  equal(DEFAULT_SCRYPT_PARAMS.logN, 17);
  ok(text.includes("2^17 = 131 072 (`ln=17`)"));
  equal(DEFAULT_SCRYPT_PARAMS.r, 8);
  equal(DEFAULT_SCRYPT_PARAMS.p, 1);
  ok(/\| r {9}\| 8 /.test(text) && /\| p {9}\| 1 /.test(text));
  equal(SALT_BYTES, 16);
  ok(text.includes("16 random bytes (22 base64 characters)"));
  equal(KEY_BYTES, 32);
  ok(text.includes("32 bytes (43 base64 characters)"));
  equal(ACCOUNT_ID_BYTES, 16);
  ok(text.includes("New ids are 16 random bytes in base64url (22 characters)"));
});
