/**
 * Another local account (A6) tampering with the server's files: symbolic
 * links planted where the server writes (history, lockouts, credentials,
 * their lock and temp files, dev certificates), and a data directory others
 * can write to or that belongs to someone else. Tests run as root here, and
 * root passes every permission check, so they assert on the server's own
 * checks: the refusal, its message, and that the link's target is untouched.
 *
 * @module
 */
import { equal, match, ok, rejects } from "node:assert/strict";
import { join } from "node:path";
import { Hasher } from "../../lib/auth/hash.ts";
import { CredentialStore } from "../../lib/auth/store.ts";
import { writeCertificates } from "../../lib/net/cert_files.ts";
import { startServer } from "../../lib/server/app.ts";
import { writeFileAtomic } from "../../lib/util/atomic_write.ts";
import { tempDir } from "../_helpers.ts";
import { TEST_SCRYPT_LOG_N, testConfig, writeServerFiles } from "../_server.ts";

/** A file outside the server's directories that a link would aim at. */
async function victim(dir: string): Promise<{ path: string; check(): Promise<void> }> {
  const path = join(dir, "victim.txt");
  await Deno.writeTextFile(path, "precious\n");
  await Deno.chmod(path, 0o644);
  return {
    path,
    async check() {
      equal(await Deno.readTextFile(path), "precious\n", "the target's content is unchanged");
      equal(((await Deno.stat(path)).mode! & 0o777).toString(8), "644", "its mode is unchanged");
    },
  };
}

/** A server directory with certificates and credentials, its data dir made. */
async function serverDir(dir: string): Promise<void> {
  await writeServerFiles(dir, { users: ["alice"] });
  await Deno.mkdir(join(dir, "data"), { mode: 0o700 });
}

const LINKED = [
  ["data/history.db", "history file"],
  ["data/history.db-wal", "history file"],
  ["data/history.db-shm", "history file"],
  ["data/lockout.json", "lockout file"],
  ["data/lockout.json.lock", "lockout lock file"],
  ["credentials.json", "credentials file"],
  ["credentials.json.lock", "credentials lock file"],
] as const;

for (const [file, what] of LINKED) {
  Deno.test(`a symbolic link at ${file} is refused at start, naming it, and its target is untouched`, async () => {
    await using dir = await tempDir();
    await using outside = await tempDir();
    await serverDir(dir.path);
    const target = await victim(outside.path);
    const link = join(dir.path, file);
    if (file === "credentials.json") {
      // Keep the real credentials as the link's target's sibling: the link replaces the file.
      await Deno.remove(link);
    }
    await Deno.symlink(target.path, link);
    await rejects(
      startServer(testConfig(dir.path), { announce: () => {} }),
      (error: Error) => {
        equal(
          error.message,
          `Cannot use ${what} ${link}: it is a symbolic link (replace it with a regular file)`,
        );
        return true;
      },
    );
    await target.check();
  });
}

Deno.test("a data directory anyone can write to (1777) is refused at start, with the chmod to run", async () => {
  await using dir = await tempDir();
  await serverDir(dir.path);
  const data = join(dir.path, "data");
  await Deno.chmod(data, 0o1777);
  await rejects(startServer(testConfig(dir.path), { announce: () => {} }), (error: Error) => {
    equal(
      error.message,
      `Cannot use data directory ${data} (--data): it is writable by others (mode 1777); fix it with: chmod 700 ${data}`,
    );
    return true;
  });
  await Deno.chmod(data, 0o770);
  await rejects(
    startServer(testConfig(dir.path), { announce: () => {} }),
    /writable by others \(mode 770\)/,
  );
  equal([...Deno.readDirSync(data)].length, 0, "nothing was written into it");
});

Deno.test("a data directory owned by another user is refused at start, with the chown to run", async () => {
  await using dir = await tempDir();
  await serverDir(dir.path);
  const data = join(dir.path, "data");
  const me = (await Deno.stat(dir.path)).uid!;
  await Deno.chown(data, 65534, null);
  await rejects(startServer(testConfig(dir.path), { announce: () => {} }), (error: Error) => {
    equal(
      error.message,
      `Cannot use data directory ${data} (--data): it is owned by uid 65534, not by this user (uid ${me}); fix it with: chown ${me} ${data}`,
    );
    return true;
  });
  equal([...Deno.readDirSync(data)].length, 0, "nothing was written into it");
});

Deno.test("a credentials directory anyone can write to is refused at start", async () => {
  await using dir = await tempDir();
  await serverDir(dir.path);
  await Deno.chmod(dir.path, 0o777);
  await rejects(
    startServer(testConfig(dir.path), { announce: () => {} }),
    new RegExp(
      `Cannot use credentials directory ${dir.path} \\(--credentials\\): it is writable by others`,
    ),
  );
});

Deno.test("a symbolic link swapped in while the server runs is refused by the atomic write and by the lock", async () => {
  await using dir = await tempDir();
  await using outside = await tempDir();
  const target = await victim(outside.path);
  const path = join(dir.path, "credentials.json");
  const store = await CredentialStore.open(path, {
    hasher: new Hasher({ params: { logN: TEST_SCRYPT_LOG_N, r: 8, p: 1 } }),
  });
  // The file itself: the atomic write would replace the link; it refuses instead.
  await Deno.remove(path);
  await Deno.symlink(target.path, path);
  await rejects(
    writeFileAtomic(path, "{}"),
    /Cannot use file .*credentials.json: it is a symbolic link/,
  );
  await rejects(store.add("carol", "amber kettle 42"), /symbolic link/);
  await Deno.remove(path);
  // Its lock file: a planted link is never opened, followed or removed.
  const lock = `${path}.lock`;
  await Deno.symlink(target.path, lock);
  await rejects(
    store.add("carol", "amber kettle 42"),
    /Cannot lock .*credentials.json.lock: it is a symbolic link/,
  );
  ok((await Deno.lstat(lock)).isSymlink, "the link is left for the admin to see");
  await target.check();
});

Deno.test("deno task certs refuses to write a key through a symbolic link", async () => {
  await using dir = await tempDir();
  await using outside = await tempDir();
  const target = await victim(outside.path);
  await Deno.symlink(target.path, join(dir.path, "server_key.pem"));
  const error = await writeCertificates(dir.path, { force: true }).then(
    () => undefined,
    (error: Error) => error,
  );
  ok(error !== undefined, "refused");
  match(error.message, /server_key\.pem: it is a symbolic link/);
  await target.check();
});
