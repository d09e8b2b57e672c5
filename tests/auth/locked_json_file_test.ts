import { FakeClock } from "../_fake_clock.ts";
import { deepEqual, equal, match, rejects } from "node:assert/strict";
import { type JsonFileFormat, LockedJsonFile } from "../../lib/auth/_locked_json_file.ts";
import { isRecord } from "../../lib/util/is_record.ts";
import { tempDir } from "./_helpers.ts";

/** A file of named counters: `{"counts":{"a":1}}`. */
type Counts = Record<string, number>;

const format: JsonFileFormat<Counts> = {
  parse: (value) => {
    if (!isRecord(value) || !isRecord(value.counts)) return "expected counts";
    return { ...value.counts } as Counts;
  },
  serialise: (counts) => JSON.stringify({ counts }) + "\n",
  invalid: (problem, options) => new SyntaxError(`Cannot load counts: ${problem}`, options),
};

function increment(name: string) {
  return (current: Counts | undefined) => {
    const counts = { ...current };
    counts[name] = (counts[name] ?? 0) + 1;
    return { value: counts, result: counts[name] };
  };
}

/** Hold `lockPath` as a live owner would: the file exists and is flocked. */
async function holdLock(lockPath: string, created: number): Promise<Deno.FsFile> {
  await Deno.writeTextFile(lockPath, JSON.stringify({ pid: 1, created }));
  const owner = await Deno.open(lockPath, { read: true });
  equal(await owner.tryLock(true), true);
  return owner;
}

Deno.test("LockedJsonFile.update() creates a missing file, mode 0600", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/counts.json`;
  const file = new LockedJsonFile(path, format);
  equal(await file.read(), undefined);
  equal(await file.update(increment("a")), 1);
  equal(await Deno.readTextFile(path), `{"counts":{"a":1}}\n`);
  equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  await rejects(Deno.stat(`${path}.lock`), Deno.errors.NotFound);
});

Deno.test("LockedJsonFile: concurrent updates from two instances all survive", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/counts.json`;
  const one = new LockedJsonFile(path, format);
  const two = new LockedJsonFile(path, format);
  await Promise.all(
    Array.from({ length: 10 }, (_, i) => [
      one.update(increment(`one${i % 2}`)),
      two.update(increment(`two${i % 2}`)),
    ]).flat(),
  );
  deepEqual(await new LockedJsonFile(path, format).read(), {
    one0: 5,
    one1: 5,
    two0: 5,
    two1: 5,
  });
});

Deno.test("LockedJsonFile: a change that throws leaves the file as it was and frees the lock", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/counts.json`;
  const file = new LockedJsonFile(path, format);
  await file.update(increment("a"));
  const before = await Deno.readTextFile(path);
  const { ino } = await Deno.stat(path);
  await rejects(
    file.update(() => {
      throw new RangeError("Cannot change counts: refused");
    }),
    RangeError,
  );
  equal(await Deno.readTextFile(path), before);
  equal((await Deno.stat(path)).ino, ino);
  await rejects(Deno.stat(`${path}.lock`), Deno.errors.NotFound);
  equal(await file.update(increment("a")), 2);
});

Deno.test("LockedJsonFile: a change without a value does not rewrite the file", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/counts.json`;
  const file = new LockedJsonFile(path, format);
  await file.update(increment("a"));
  const { ino } = await Deno.stat(path);
  deepEqual(await file.update((current) => ({ value: undefined, result: current })), { a: 1 });
  equal((await Deno.stat(path)).ino, ino);
});

Deno.test("LockedJsonFile refuses a file that is not valid JSON or not the format, leaving it", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/counts.json`;
  const file = new LockedJsonFile(path, format);
  for (const [text, problem] of [["{oops", "not valid JSON"], ["[]", "expected counts"]]) {
    await Deno.writeTextFile(path, text!);
    await rejects(file.read(), (error: Error) => {
      equal(error instanceof SyntaxError, true);
      equal(error.message, `Cannot load counts: ${problem}`);
      return true;
    });
    await rejects(file.update(increment("a")), SyntaxError);
    equal(await Deno.readTextFile(path), text);
  }
});

Deno.test("LockedJsonFile.changed() notices another writer, not its own writes", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/counts.json`;
  const mine = new LockedJsonFile(path, format);
  const theirs = new LockedJsonFile(path, format);
  equal(await mine.changed(), false);
  await mine.update(increment("a"));
  equal(await mine.changed(), false);
  await theirs.update(increment("b"));
  equal(await mine.changed(), true);
  deepEqual(await mine.read(), { a: 1, b: 1 });
  equal(await mine.changed(), false);
});

Deno.test("LockedJsonFile waits lockTimeoutMs of the injected clock for a live lock, then times out", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/counts.json`;
  for (const lockTimeoutMs of [20, 400]) {
    const clock = new FakeClock();
    const file = new LockedJsonFile(path, format, { lockTimeoutMs, clock });
    using _owner = await holdLock(`${path}.lock`, clock.now());
    const start = clock.now();
    await rejects(clock.runUntilSettled(file.update(increment("a"))), (error: Error) => {
      equal(error instanceof Deno.errors.TimedOut, true);
      match(error.message, new RegExp(`held by pid 1 for over ${lockTimeoutMs} ms$`));
      return true;
    });
    const waited = clock.now() - start;
    equal(waited >= lockTimeoutMs && waited < lockTimeoutMs + 100, true, `waited ${waited} ms`);
    await Deno.remove(`${path}.lock`);
  }
  equal(await new LockedJsonFile(path, format).read(), undefined);
});
