import { deepEqual, equal, ok } from "node:assert/strict";
import { CredentialStore } from "../../lib/auth/store.ts";
import { denoRun, fixedRandom, GOOD_PASSWORD, tempDir, testHasher } from "./_helpers.ts";

const WRITER = new URL("./_store_writer.ts", import.meta.url);
const hasher = testHasher();

async function createFile(dir: string): Promise<string> {
  const path = `${dir}/credentials.json`;
  await CredentialStore.open(path, { hasher, random: fixedRandom() });
  return path;
}

/** Read `stream` until a line satisfies `done`, then run `then` before
 * letting go of the stream (so the writer never sees a closed pipe). */
async function onLine(
  stream: ReadableStream<Uint8Array>,
  done: (line: string) => boolean,
  then: () => void,
): Promise<void> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  for (;;) {
    const { value, done: ended } = await reader.read();
    if (ended) throw new Error("Cannot wait for line: the child ended");
    buffered += value;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    if (lines.some(done)) break;
  }
  then();
  await reader.cancel();
}

Deno.test("two writer processes adding users at once lose nothing", async () => {
  await using dir = await tempDir();
  const path = await createFile(dir.path);
  const children = ["a", "b"].map((prefix) => denoRun(WRITER, ["add", path, prefix, "15"]));
  const results = await Promise.all(children.map((child) => child.output()));
  for (const result of results) {
    equal(result.code, 0, new TextDecoder().decode(result.stderr));
  }
  const store = await CredentialStore.open(path, { hasher });
  const names = store.list().map((user) => user.name);
  equal(names.length, 1 + 30);
  for (let i = 0; i < 15; i++) {
    ok(names.includes(`a${i}`) && names.includes(`b${i}`), `user ${i}`);
  }
});

Deno.test("a writer killed with SIGKILL mid-write leaves a loadable file and no stuck lock", async () => {
  await using dir = await tempDir();
  const path = await createFile(dir.path);
  const child = denoRun(WRITER, ["churn", path]);
  await onLine(
    child.stdout,
    (line) => line === "wrote 30",
    () => child.kill("SIGKILL"),
  );
  const status = await child.status;
  equal(status.signal, "SIGKILL");
  await child.stderr.cancel();

  const store = await CredentialStore.open(path, {
    hasher,
    createIfMissing: false,
  });
  equal(store.get("admin")?.role, "admin");
  // The dead writer's lock, if it held one, is broken at once.
  await store.add("after", GOOD_PASSWORD);
  const reopened = await CredentialStore.open(path, { hasher });
  deepEqual(reopened.get("after")?.role, "user");
});
