/**
 * Property-based tests of the frame decoder (lib/wire/framing.ts) against the
 * framing model of docs/PROTOCOL.md section 2.
 *
 * @module
 */
import { deepEqual, equal, fail, ok } from "node:assert/strict";
import fc from "fast-check";
import { streamSource } from "../../lib/wire/byte_channel.ts";
import { encodeLine, FrameError, type FrameErrorCode, LineReader } from "../../lib/wire/framing.ts";
import { chunk, concatBytes, cuts, hostileBytes } from "./_arbitraries.ts";
import { modelLines } from "./_model.ts";
import { fuzzParameters } from "./_runs.ts";

interface Decoded {
  lines: string[];
  error?: FrameErrorCode;
}

/** Run the decoder over `chunks`, reading eagerly; never throws. */
async function decode(chunks: Uint8Array[], max: number): Promise<Decoded> {
  const reader = new LineReader(streamSource(ReadableStream.from(chunks)), {
    maxFrameBytes: max,
  });
  const lines: string[] = [];
  // Bounded: there are never more lines than bytes plus one.
  const limit = chunks.reduce((n, c) => n + c.length, 0) + 1;
  for (let i = 0; i <= limit; i++) {
    let line: string | undefined;
    try {
      line = await reader.next();
    } catch (error) {
      if (!(error instanceof FrameError)) {
        fail(`Decoder threw ${error instanceof Error ? error.name : typeof error}, not FrameError`);
      }
      return { lines, error: error.code };
    }
    if (line === undefined) return { lines };
    lines.push(line);
  }
  fail("Decoder produced more lines than there were bytes");
}

const maxFrame = fc.integer({ min: 1, max: 64 });

Deno.test("fuzz: the frame decoder accepts what the framing model accepts, however the bytes are split", async () => {
  await fc.assert(
    fc.asyncProperty(hostileBytes, cuts, maxFrame, async (bytes, at, max) => {
      const model = modelLines(bytes, max);
      const got = await decode(chunk(bytes, at), max);
      equal(got.error, model.error);
      if (model.error === undefined) {
        deepEqual(got.lines, model.lines);
      } else {
        // See the ignored test below: lines just before the bad one may be lost.
        deepEqual(got.lines, model.lines.slice(0, got.lines.length));
      }
    }),
    fuzzParameters(),
  );
});

Deno.test({
  name: "fuzz: every good line before a bad one is delivered before the error",
  fn: async () => {
    await fc.assert(
      fc.asyncProperty(hostileBytes, cuts, maxFrame, async (bytes, at, max) => {
        const model = modelLines(bytes, max);
        const got = await decode(chunk(bytes, at), max);
        deepEqual(got, model.error === undefined ? { lines: model.lines } : model);
      }),
      fuzzParameters(),
    );
  },
});

Deno.test("fuzz: encoded lines come back unchanged through the decoder, however they are split", async () => {
  const line = fc.string({ unit: "binary", maxLength: 40 }).map((s) => s.replaceAll("\n", " "));
  await fc.assert(
    fc.asyncProperty(fc.array(line, { maxLength: 12 }), cuts, async (lines, at) => {
      const bytes = concatBytes(lines.map((l) => encodeLine(l)));
      const got = await decode(chunk(bytes, at), 1024);
      // A trailing "\r" is taken as part of CRLF, as PROTOCOL.md says.
      deepEqual(got, { lines: lines.map((l) => l.replace(/\r$/, "")) });
    }),
    fuzzParameters(),
  );
});

Deno.test("fuzz: a line without a newline is refused after at most the cap plus a few reads, whatever its size", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 4096 }),
      fc.integer({ min: 1, max: 8192 }),
      fc.integer({ min: 2, max: 64 }),
      async (max, size, factor) => {
        // The source counts what the decoder has pulled from it.
        let pulled = 0;
        const total = (max + 1) * factor + size;
        const source = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (pulled >= total) return controller.close();
            pulled += size;
            controller.enqueue(new Uint8Array(size).fill(0x61));
          },
        }, { highWaterMark: 0 });
        const reader = new LineReader(streamSource(source), { maxFrameBytes: max });
        const error = await reader.next().then(() => undefined, (e: unknown) => e);
        ok(error instanceof FrameError && error.code === "frame_too_long", String(error));
        // Held at most max + 1 bytes, plus what the stream reads ahead.
        ok(pulled <= max + 1 + 3 * size, `pulled ${pulled} bytes for a cap of ${max}`);
      },
    ),
    fuzzParameters(),
  );
});
