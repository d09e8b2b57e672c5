/**
 * What the cluster link costs per request: the NATS client is told not to
 * build a stack trace for every request and publish ack (17 % of an
 * instance's CPU in the cluster bench's profile before; bench/RESULTS.md).
 */
import { equal } from "node:assert/strict";
import type { ConnectionOptions } from "@nats-io/transport-node";
import { parseClusterUrls } from "../../lib/cluster/cluster_urls.ts";
import { connectCluster } from "../../lib/cluster/link.ts";
import { startNats } from "../_nats.ts";

Deno.test("the cluster link's connection builds no stack trace per request (noAsyncTraces)", async () => {
  await using nats = await startNats();
  await using link = await connectCluster({ servers: parseClusterUrls(nats.url) });
  const options = (link.connection as unknown as { options: ConnectionOptions }).options;
  equal(options.noAsyncTraces, true);
});
