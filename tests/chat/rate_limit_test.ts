import assert from "node:assert/strict";
import { TokenBucket } from "../../lib/chat/rate_limit.ts";
import { FakeClock } from "../_fake_clock.ts";

Deno.test("TokenBucket lets a burst through then refuses", () => {
  const bucket = new TokenBucket(new FakeClock(), { burst: 3, perSecond: 1 });
  assert.deepEqual([1, 2, 3, 4].map(() => bucket.take()), [
    true,
    true,
    true,
    false,
  ]);
});

Deno.test("TokenBucket refills with the clock up to the burst", () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket(clock, { burst: 2, perSecond: 2 });
  bucket.take();
  bucket.take();
  assert.equal(bucket.waitMs(), 500);
  clock.advance(499);
  assert.equal(bucket.take(), false);
  clock.advance(1);
  assert.equal(bucket.take(), true);
  clock.advance(60_000);
  assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), false);
});

Deno.test("TokenBucket ignores a clock that steps back", () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket(clock, { burst: 1, perSecond: 1 });
  bucket.take();
  clock.advance(-10_000);
  assert.equal(bucket.take(), false);
  assert.equal(bucket.waitMs(), 1000);
});

Deno.test("TokenBucket rejects a zero burst or rate", () => {
  assert.throws(
    () => new TokenBucket(new FakeClock(), { burst: 0 }),
    RangeError,
  );
  assert.throws(
    () => new TokenBucket(new FakeClock(), { perSecond: 0 }),
    RangeError,
  );
});
