import { deepEqual } from "node:assert/strict";
import { shutDown, SHUTDOWN_DEADLINE_MS, type ShutdownParts } from "../../lib/server/shutdown.ts";

/** Parts that record each step; async steps finish a turn later. */
function recordingParts(log: string[], optional: boolean): ShutdownParts {
  const later = async (step: string) => {
    log.push(`${step} started`);
    await Promise.resolve();
    log.push(`${step} done`);
  };
  return {
    timers: [
      { [Symbol.dispose]: () => log.push("heartbeat stopped") },
      { [Symbol.dispose]: () => log.push("pruner stopped") },
    ],
    transport: {
      stopAccepting: () => log.push("stop accepting"),
      close: (ms) => later(`transport close ${ms}`),
    },
    hub: { shutdown: (message) => log.push(`hub: ${message}`) },
    sessions: [
      { terminate: (code, message) => log.push(`alice ${code}: ${message}`) },
      { terminate: (code, message) => log.push(`bob ${code}: ${message}`) },
    ],
    ...(optional ? { alerts: { close: () => later("alerts") } } : {}),
    lag: { [Symbol.dispose]: () => log.push("lag stopped") },
    ...(optional ? { http: { close: () => later("http") } } : {}),
    history: { close: () => log.push("history closed") },
  };
}

Deno.test("shutDown() stops the parts in order, waiting for each async step", async () => {
  const log: string[] = [];
  await shutDown(recordingParts(log, true), "Bye now");
  deepEqual(log, [
    "heartbeat stopped",
    "pruner stopped",
    "stop accepting",
    "hub: Bye now",
    "alice shutdown: Bye now",
    "bob shutdown: Bye now",
    `transport close ${SHUTDOWN_DEADLINE_MS} started`,
    `transport close ${SHUTDOWN_DEADLINE_MS} done`,
    "alerts started",
    "alerts done",
    "lag stopped",
    "http started",
    "http done",
    "history closed",
  ]);
});

Deno.test("shutDown() skips alerts and HTTP when they are off", async () => {
  const log: string[] = [];
  await shutDown(recordingParts(log, false), "Bye");
  deepEqual(log.slice(-2), ["lag stopped", "history closed"]);
  deepEqual(log.filter((l) => l.startsWith("alerts") || l.startsWith("http")), []);
});
