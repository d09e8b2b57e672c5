/**
 * KvMirror: a write stored but its answer lost is resent and counted once,
 * also when another instance writes before the resend (found by review: on an R3 bucket the resend was
 * answered "wrong last sequence" and the change applied twice). The first
 * publish of B is stored, then its answer is made to look lost.
 */
import { equal } from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { jetstream, type JetStreamClient, type PubAck } from "@nats-io/jetstream";
import { KvMirror } from "../../lib/cluster/kv_mirror.ts";
import { retryTransient } from "../../lib/cluster/transient.ts";
import { startNats, startNatsCluster } from "../_nats.ts";

const json = {
  decode: (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b)) as number,
  encode: (v: number) => new TextEncoder().encode(JSON.stringify(v)),
};
function through(
  js: JetStreamClient,
  wrap: (send: () => Promise<PubAck>, call: number) => Promise<PubAck>,
) {
  let calls = 0;
  const publish = (...args: Parameters<JetStreamClient["publish"]>) =>
    wrap(() => js.publish(...args), ++calls);
  return Object.create(js, { publish: { value: publish } }) as JetStreamClient;
}
/** One increment by B whose answer is lost (and, with `between`, one by A before B's resend). */
async function run(servers: string[], replicas: number, between: boolean) {
  const ncA = await connect({ servers }), ncB = await connect({ servers });
  try {
    const kvA = await retryTransient(() => new Kvm(ncA).create("c", { history: 1, replicas }));
    const kvB = await retryTransient(() => new Kvm(ncB).create("c", { history: 1, replicas }));
    const inc = (n: number | undefined) => (n ?? 0) + 1;
    const mirrorA = await KvMirror.open(kvA, { ...json, js: jetstream(ncA) });
    const jsB = through(jetstream(ncB), async (send, call) => {
      const ack = await send();
      if (call !== 1) return ack;
      if (between) await mirrorA.update("hits", inc); // another instance writes before B's resend
      const e = new Error("timeout");
      e.name = "TimeoutError";
      throw e; // B's answer lost
    });
    await kvA.put("hits", "5"); // the key already held a value (expected revision > 0)
    const mirrorB = await KvMirror.open(kvB, { ...json, js: jsB });
    const result = await mirrorB.update("hits", inc);
    const stored = json.decode((await kvA.get("hits"))!.value);
    await mirrorA.close();
    await mirrorB.close();
    const expected = between ? 7 : 6;
    equal(stored, expected);
    equal(result, expected, "B's update returns what is stored");
  } finally {
    await ncA.close();
    await ncB.close();
  }
}
for (const between of [false, true]) {
  const what = between
    ? "a write stored but its answer lost, with another instance writing before the resend, is counted once"
    : "a write stored but its answer lost is resent and counted once";
  Deno.test(`${what}, on one NATS server (R1)`, async () => {
    await using n = await startNats();
    await run([n.url], 1, between);
  });
  Deno.test(`${what}, on a 3-node NATS cluster (R3)`, async () => {
    await using c = await startNatsCluster();
    await run(c.urls.split(","), 3, between);
  });
}
