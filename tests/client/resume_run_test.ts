/**
 * The chat client's resume against a stand-in version 2 server: lines a
 * replay left out are asked for before it is shown, the wait for them is
 * bounded on the clock, and a line lost with the connection goes again.
 */
import { deepEqual, equal } from "node:assert/strict";
import type { ChatEvent, RoomMessage } from "../../lib/chat/message.ts";
import { EXIT, GAP_WAIT_MS } from "../../lib/client/run.ts";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { FakeClock } from "../_fake_clock.ts";
import { within } from "../_helpers.ts";
import {
  aliceClient,
  RecordingIO,
  standIn,
  type StandInPeer,
  untilEnd,
  welcomeV2,
} from "./_stand_in.ts";

/** Records the chat events too. */
class EventsIO extends RecordingIO {
  readonly events: ChatEvent[] = [];
  // RecordingIO's event() takes nothing; ClientIO passes the event first.
  override event(...args: unknown[]): void {
    this.events.push(args[0] as ChatEvent);
  }
}

function said(id: number, from = "bob"): RoomMessage {
  return { kind: "message", id, room: "lobby", from, text: `m${id}`, ts: id };
}

function roomFrame(history: RoomMessage[], truncated: boolean): ServerFrame {
  return {
    type: "room",
    room: "lobby",
    members: ["alice", "bob"],
    history: history.map(({ kind: _, ...m }) => ({ type: "message", ...m })),
    retention_days: 30,
    truncated,
  } as ServerFrame;
}

/** The client's next line that is not a pong or a read marker, parsed. */
async function nextRequest(peer: StandInPeer): Promise<Record<string, unknown> | undefined> {
  for (let line = await peer.lines.next(); line !== undefined; line = await peer.lines.next()) {
    const frame = JSON.parse(line);
    if (frame.type !== "read" && frame.type !== "pong") return frame;
  }
  return undefined;
}

Deno.test("a resumed replay that left lines out is held while they are asked for, and shown with what came once GAP_WAIT_MS pass", async () => {
  const asked = Promise.withResolvers<Record<string, unknown> | undefined>();
  const heard: (Record<string, unknown> | undefined)[] = [];
  await using server = await standIn(async (peer) => {
    await welcomeV2(peer);
    if (peer.n === 1) {
      await peer.send(roomFrame([said(5)], false));
      await peer.send({ type: "ready" });
      // The client sends "hi" (tracked), then the connection drops: no ack.
      heard.push(await nextRequest(peer));
      return;
    }
    await peer.send(roomFrame([said(9), said(10)], true));
    await peer.send({ type: "ready" });
    asked.resolve(await nextRequest(peer)); // the page; never answered
    await untilEnd(peer);
  });
  const clock = new FakeClock();
  const io = new EventsIO();
  const chat = await aliceClient(server.port, clock, io);
  const dropped = io.next(/reconnecting/);
  const running = chat.run();
  chat.say("hi", "lobby");
  await dropped;
  const reconnected = io.next(/Reconnected after/);
  clock.advance(500);
  await reconnected;
  deepEqual(server.hellos[1]?.resume, { lobby: 5 });
  deepEqual(await within(asked.promise, 5000, "the page request"), {
    type: "history",
    room: "lobby",
    before: 9,
    limit: 2,
    id: "resume-gap:lobby",
  });
  // Nothing of the second replay is shown while the page is awaited.
  const rooms = () => io.events.filter((e) => e.kind === "room");
  equal(rooms().length, 1);
  const shown = io.next(/Older lines of #lobby missed while away are not shown \(2 fetched\)/);
  clock.advance(GAP_WAIT_MS);
  await shown;
  const second = rooms()[1];
  deepEqual(second?.kind === "room" && second.history.map((m) => m.id), [9, 10]);
  equal(io.events.at(-1)?.kind, "ready");
  // "hi" went without an ack; the replay that would settle it is
  // incomplete, so it is named, not sent again.
  equal(heard[0]?.text, "hi");
  equal(
    io.lines.at(-1),
    "Not known whether this line was stored before the connection was lost: hi",
  );
  chat.quit();
  equal(await within(running, 5000, "the client to exit"), EXIT.ok);
});
