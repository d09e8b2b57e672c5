import { deepEqual } from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import {
  type CloseUserCommand,
  ClusterControl,
  CONTROL_SUBJECT,
} from "../../lib/cluster/control.ts";
import { within } from "../_helpers.ts";
import { startNats } from "../_nats.ts";

Deno.test("a kick on one instance reaches every other instance, not itself; junk on the subject is ignored", async () => {
  await using nats = await startNats();
  const ncs = await Promise.all([1, 2, 3].map(() => connect({ servers: nats.url })));
  try {
    const heard: string[][] = [[], [], []];
    const got = [1, 2].map(() => Promise.withResolvers<void>());
    const controls = ["a", "b", "c"].map((name, i) =>
      new ClusterControl(ncs[i]!, name, (command: CloseUserCommand) => {
        heard[i]!.push(`${command.user} ${command.code} ${command.reason} from ${command.from}`);
        if (i > 0) got[i - 1]!.resolve();
      })
    );
    for (const control of controls) await control.ready();
    // Not a command: dropped before any listener.
    ncs[0]!.publish(CONTROL_SUBJECT, "{not json");
    ncs[0]!.publish(CONTROL_SUBJECT, JSON.stringify({ action: "close", user: 5, from: "x" }));
    await controls[0]!.closeUser("Mallory", "kicked", "kicked: spam");
    await within(Promise.all(got.map((g) => g.promise)), 5_000, "b and c to hear the kick");
    deepEqual(heard, [
      [],
      ["Mallory kicked kicked: spam from a"],
      ["Mallory kicked kicked: spam from a"],
    ]);
    for (const control of controls) await control.close();
  } finally {
    for (const nc of ncs) await nc.close();
  }
});
