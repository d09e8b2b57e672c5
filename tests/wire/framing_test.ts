import { deepEqual as assertEquals, rejects } from "node:assert/strict";
import fc from "fast-check";
import { streamSource } from "../../lib/wire/byte_channel.ts";
import { encodeLine, FrameError, LineReader } from "../../lib/wire/framing.ts";

async function decode(
  chunks: Uint8Array[],
  maxFrameBytes?: number,
): Promise<string[]> {
  const options = maxFrameBytes === undefined ? {} : { maxFrameBytes };
  return await readLines(ReadableStream.from(chunks), options);
}

/** Every line of `bytes`, read with a {@linkcode LineReader}. */
async function readLines(
  bytes: ReadableStream<Uint8Array>,
  options: { maxFrameBytes?: number } = {},
): Promise<string[]> {
  const reader = new LineReader(streamSource(bytes), options);
  const lines: string[] = [];
  for (let line = await reader.next(); line !== undefined; line = await reader.next()) {
    lines.push(line);
  }
  return lines;
}

function splitAt(bytes: Uint8Array, points: number[]): Uint8Array[] {
  const cuts = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort(
    (a, b) => a - b,
  );
  const out: Uint8Array[] = [];
  let start = 0;
  for (const cut of cuts) {
    out.push(bytes.subarray(start, cut));
    start = cut;
  }
  out.push(bytes.subarray(start));
  return out;
}

const line = fc.string({ unit: "grapheme", maxLength: 200 }).map((s) =>
  s.replaceAll("\n", " ").replaceAll("\r", " ")
);

Deno.test("LineReader reassembles random frames split at random points", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(line, { maxLength: 20 }),
      fc.array(fc.nat(), { maxLength: 30 }),
      async (lines, points) => {
        const bytes = new TextEncoder().encode(
          lines.map((l) => l + "\n").join(""),
        );
        assertEquals(await decode(splitAt(bytes, points)), lines);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("LineReader handles a frame sent one byte per read", async () => {
  const bytes = encodeLine(JSON.stringify({ type: "say", text: "héllo 👋" }));
  const chunks = Array.from(bytes, (b) => new Uint8Array([b]));
  assertEquals(await decode(chunks), ['{"type":"say","text":"héllo 👋"}']);
});

Deno.test("LineReader handles many frames in one read and CRLF", async () => {
  const bytes = new TextEncoder().encode("a\r\nb\n\nc\n");
  assertEquals(await decode([bytes]), ["a", "b", "", "c"]);
});

Deno.test("LineReader refuses a frame over the cap before it ends", async () => {
  // 100 bytes, no newline yet: the cap of 64 must trip without waiting.
  const chunks = [new Uint8Array(60).fill(0x61), new Uint8Array(40).fill(0x61)];
  await rejects(decode(chunks, 64), (e) => {
    return e instanceof FrameError && e.code === "frame_too_long";
  });
});

Deno.test("LineReader accepts a frame of exactly the cap", async () => {
  const body = "x".repeat(64);
  assertEquals(await decode([new TextEncoder().encode(body + "\r\n")], 64), [
    body,
  ]);
  await rejects(
    decode([new TextEncoder().encode(body + "x\n")], 64),
    (e) => e instanceof FrameError && e.code === "frame_too_long",
  );
});

Deno.test("LineReader keeps memory bounded for a 1 MiB line without newline", async () => {
  const chunk = new Uint8Array(16 * 1024).fill(0x41);
  let pulled = 0;
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      if (pulled > 64) controller.close();
      else controller.enqueue(chunk);
    },
  });
  await rejects(
    readLines(source),
    (e) => e instanceof FrameError && e.code === "frame_too_long",
  );
  // 64 KiB cap / 16 KiB chunks: it stops after about five chunks, not 64.
  assertEquals(pulled <= 8, true, `pulled ${pulled} chunks`);
});

Deno.test("LineReader refuses invalid UTF-8", async () => {
  const bad = new Uint8Array([0x7b, 0xff, 0xfe, 0x7d, 0x0a]);
  await rejects(
    decode([bad]),
    (e) => e instanceof FrameError && e.code === "invalid_utf8",
  );
});

Deno.test("LineReader accepts a UTF-8 character split across reads", async () => {
  const bytes = new TextEncoder().encode("€\n"); // 3-byte character
  assertEquals(
    await decode([
      bytes.subarray(0, 1),
      bytes.subarray(1, 2),
      bytes.subarray(2),
    ]),
    ["€"],
  );
});

Deno.test("LineReader drops an unfinished last line", async () => {
  assertEquals(await decode([new TextEncoder().encode("a\nunfinished")]), [
    "a",
  ]);
});

Deno.test("encodeLine refuses a newline", () => {
  let error: unknown;
  try {
    encodeLine("a\nb");
  } catch (e) {
    error = e;
  }
  assertEquals(error instanceof RangeError, true);
});

Deno.test("LineReader.maxFrameBytes raised after a line applies to the lines read from then on", async () => {
  const enc = new TextEncoder();
  const chunks = [enc.encode("short\n"), enc.encode("x".repeat(20) + "\n")];
  const reader = new LineReader(streamSource(ReadableStream.from(chunks)), { maxFrameBytes: 8 });
  assertEquals(await reader.next(), "short");
  reader.maxFrameBytes = 32;
  assertEquals(await reader.next(), "x".repeat(20));
  assertEquals(await reader.next(), undefined);
});

Deno.test("LineReader.maxFrameBytes refuses a cap that is not a positive integer", () => {
  const reader = new LineReader(streamSource(ReadableStream.from<Uint8Array>([])));
  for (const max of [0, -1, 1.5, Number.NaN]) {
    try {
      reader.maxFrameBytes = max;
      throw new Error(`accepted ${max}`);
    } catch (error) {
      assertEquals(error instanceof RangeError, true, String(max));
    }
  }
});

Deno.test("a line sent a byte per chunk is gathered to the cap exactly: UTF-8 split across chunks, CRLF at the cap, one byte past it refused", async () => {
  const max = 1024;
  const bytes = (text: string) => new TextEncoder().encode(text);
  /** A source handing out `line` one byte per read, then the end. */
  const byteByByte = (line: Uint8Array) => {
    let at = 0;
    return {
      read: () => Promise.resolve(at < line.length ? line.subarray(at, ++at) : undefined),
      cancel: () => Promise.resolve(),
    };
  };
  const text = "é".repeat(max / 2); // 1024 bytes, each character split over two reads
  const fits = new LineReader(byteByByte(bytes(`${text}\r\n`)), { maxFrameBytes: max });
  assertEquals(await fits.next(), text);
  assertEquals(await fits.next(), undefined);
  const over = new LineReader(byteByByte(bytes(`${"x".repeat(max + 1)}\n`)), {
    maxFrameBytes: max,
  });
  await rejects(
    over.next(),
    (error) => error instanceof FrameError && error.code === "frame_too_long",
  );
  // Many lines through one reader, each gathered and released in turn.
  const many = new LineReader(byteByByte(bytes("a\nbb\n\nccc\n")), { maxFrameBytes: max });
  const got: (string | undefined)[] = [];
  for (let line = await many.next(); line !== undefined; line = await many.next()) got.push(line);
  assertEquals(got, ["a", "bb", "", "ccc"]);
});
