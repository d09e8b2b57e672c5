/**
 * Which JetStream failures pass by themselves, and retrying them on a fake
 * clock: tried again after a pause, given up past the deadline.
 */
import { equal, rejects } from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { JetStreamApiError } from "@nats-io/jetstream";
import { isTransient, retryTransient, TRANSIENT_RETRY_MS } from "../../lib/cluster/transient.ts";
import { FakeClock } from "../_fake_clock.ts";
import { startNats } from "../_nats.ts";

function named(name: string): Error {
  const error = new Error("failed");
  error.name = name;
  return error;
}

Deno.test("isTransient() takes no responders and time-outs, not a missing stream or a lost compare-and-set", async () => {
  equal(isTransient(named("TimeoutError")), true);
  equal(isTransient(named("JetStreamNotEnabled")), true);
  equal(isTransient(named("StreamNotFoundError")), false);
  equal(
    isTransient(
      new JetStreamApiError({ code: 400, err_code: 10071, description: "wrong last sequence: 3" }),
    ),
    false,
  );
  equal(
    isTransient(
      new JetStreamApiError({
        code: 503,
        err_code: 10008,
        description: "JetStream system temporarily unavailable",
      }),
    ),
    true,
  );
  equal(isTransient("timeout"), false);
  // The real client's error for a request nobody answers.
  await using nats = await startNats();
  const nc = await connect({ servers: nats.url });
  try {
    const error = await nc.request("nobody.here", "", { timeout: 1_000 }).then(
      () => undefined,
      (e) => e,
    );
    equal(isTransient(error), true, String(error));
  } finally {
    await nc.close();
  }
});

Deno.test("retryTransient() tries again after each pause until the request succeeds", async () => {
  const clock = new FakeClock();
  let tries = 0;
  const started = clock.now();
  const result = await clock.runUntilSettled(retryTransient(() => {
    tries++;
    return tries < 4 ? Promise.reject(named("TimeoutError")) : Promise.resolve("done");
  }, { clock }));
  equal(result, "done");
  equal(tries, 4);
  equal(clock.now() - started, 3 * TRANSIENT_RETRY_MS);
});

Deno.test("retryTransient() throws a failure that is not transient at once, and a transient one past the deadline", async () => {
  const clock = new FakeClock();
  let tries = 0;
  await rejects(
    retryTransient(() => {
      tries++;
      return Promise.reject(named("StreamNotFoundError"));
    }, { clock }),
    { name: "StreamNotFoundError" },
  );
  equal(tries, 1);
  const started = clock.now();
  await rejects(
    clock.runUntilSettled(
      retryTransient(() => Promise.reject(named("JetStreamNotEnabled")), {
        clock,
        deadlineMs: 2_000,
      }),
    ),
    { name: "JetStreamNotEnabled" },
  );
  equal(clock.now() - started, 2_000);
});
