/**
 * The hub with a `MessageRelay` (cluster mode's seam), against an
 * in-memory log that numbers messages and hands them back when told to:
 * nothing is delivered before the log holds it, every hub delivers in the
 * log's order, and a refusal reaches the sender.
 */
import assert from "node:assert/strict";
import type { DirectAccounts } from "../../lib/chat/history.ts";
import type { DirectMessage, RoomMessage } from "../../lib/chat/message.ts";
import type {
  MessageRelay,
  RelayedMessage,
  RemoteUser,
  Unnumbered,
} from "../../lib/chat/message_relay.ts";
import type { Hub } from "../../lib/chat/hub.ts";
import { FakeMember, makeHub } from "./_fake_member.ts";

/** One shared log: posts wait in `pending` until `store()` numbers them and hands them to every hub. */
class FakeLog {
  #seq = 0;
  readonly hubs: Hub[] = [];
  readonly pending: {
    relayed: Omit<RelayedMessage, "message"> & {
      message: Unnumbered<RoomMessage> | Unnumbered<DirectMessage>;
    };
    resolve: (message: RoomMessage | DirectMessage) => void;
    reject: (error: Error) => void;
  }[] = [];
  remote: RemoteUser[] = [];

  relay(): MessageRelay {
    return {
      postRoom: (message) =>
        new Promise((resolve, reject) =>
          this.pending.push({
            relayed: { message },
            resolve: resolve as (m: RoomMessage | DirectMessage) => void,
            reject,
          })
        ),
      postDirect: (message, accounts: DirectAccounts) =>
        new Promise((resolve, reject) =>
          this.pending.push({
            relayed: { message, accounts },
            resolve: resolve as (m: RoomMessage | DirectMessage) => void,
            reject,
          })
        ),
      remoteUsers: () => this.remote,
    };
  }

  /** Store every pending post in the order given (default: as posted), then hand them out. */
  store(order?: number[]): void {
    const taken = this.pending.splice(0);
    for (const index of order ?? taken.map((_, i) => i)) {
      const post = taken[index]!;
      const message = { ...post.relayed.message, id: ++this.#seq } as RoomMessage | DirectMessage;
      const relayed: RelayedMessage = post.relayed.accounts === undefined
        ? { message }
        : { message, accounts: post.relayed.accounts };
      for (const hub of this.hubs) hub.receive(relayed);
      post.resolve(message);
    }
  }

  refuse(text: string): void {
    for (const post of this.pending.splice(0)) post.reject(new Error(text));
  }
}

function twoHubs() {
  const log = new FakeLog();
  const { hub: one, clock } = makeHub({ relay: log.relay() });
  const { hub: two } = makeHub({ relay: log.relay(), clock });
  log.hubs.push(one, two);
  return { log, one, two, clock };
}

Deno.test("with a relay nothing is delivered before the log holds it, then every hub delivers in the log's order", async () => {
  const { log, one, two } = twoHubs();
  const ann = new FakeMember("ann", "user", "id-ann");
  const bob = new FakeMember("bob", "user", "id-bob");
  const a = one.enter(ann);
  const b = two.enter(bob);
  const first = a.request({ kind: "say", text: "from ann", ref: "1" });
  const second = b.request({ kind: "say", text: "from bob", ref: "2" });
  assert.ok(first.ok && first.pending !== undefined, "the answer waits for the log");
  assert.ok(second.ok && second.pending !== undefined);
  assert.deepEqual(ann.texts(), [], "not even the sender's echo before the log stored it");
  // The log stores bob's first: both hubs show that order.
  log.store([1, 0]);
  assert.deepEqual(ann.texts(), ["from bob", "from ann"]);
  assert.deepEqual(bob.texts(), ["from bob", "from ann"]);
  assert.deepEqual(ann.messages().map((m) => m.id), [1, 2]);
  assert.deepEqual(await first.pending, { ok: true, messageId: 2 });
  assert.deepEqual(await second.pending, { ok: true, messageId: 1 });
});

Deno.test("a post the log refuses is answered with its reason and delivered to nobody", async () => {
  const { log, one } = twoHubs();
  const ann = new FakeMember("ann", "user", "id-ann");
  const a = one.enter(ann);
  const outcome = a.request({ kind: "say", text: "lost", ref: "1" });
  assert.ok(outcome.ok && outcome.pending !== undefined);
  log.refuse("Cannot send: the cluster did not store it");
  assert.deepEqual(await outcome.pending, {
    ok: false,
    code: "refused",
    message: "Cannot send: the cluster did not store it",
  });
  // A typed line (no ref) is told as an error notice.
  const told = Promise.withResolvers<string>();
  const deliver = ann.deliver.bind(ann);
  ann.deliver = (event) => {
    deliver(event);
    if (event.kind === "notice") told.resolve(event.text);
  };
  a.input("also lost");
  log.refuse("Cannot send: the cluster did not store it");
  assert.equal(await told.promise, "Cannot send: the cluster did not store it");
  assert.deepEqual(ann.texts(), []);
});

Deno.test("a DM through the relay reaches the recipient's sessions on every hub and the sender's", () => {
  const { log, one, two } = twoHubs();
  const ann = new FakeMember("ann", "user", "id-ann");
  const bobHere = new FakeMember("bob", "user", "id-bob");
  const bobThere = new FakeMember("bob", "user", "id-bob");
  const a = one.enter(ann);
  one.enter(bobHere);
  two.enter(bobThere);
  a.request({ kind: "dm", to: "bob", text: "psst" });
  assert.deepEqual(bobThere.dms(), []);
  log.store();
  for (const member of [ann, bobHere, bobThere]) {
    assert.deepEqual(member.dms().map((d) => d.text), ["psst"]);
  }
});

Deno.test("while unavailable, changes are refused with the reason and everyone is told once; back again, it is told too", () => {
  const { one, log } = twoHubs();
  const ann = new FakeMember("ann", "user", "id-ann");
  const a = one.enter(ann);
  one.setUnavailable({ notice: "Cluster link lost", refusal: "Cannot send: link lost" });
  one.setUnavailable({ notice: "Cluster link lost", refusal: "Cannot send: link lost" });
  assert.deepEqual(ann.notices().map((n) => n.text), ["Cluster link lost"]);
  assert.deepEqual(a.request({ kind: "say", text: "hi", ref: "1" }), {
    ok: false,
    code: "refused",
    message: "Cannot send: link lost",
  });
  assert.deepEqual(a.request({ kind: "join", room: "dev", ref: "2" }), {
    ok: false,
    code: "refused",
    message: "Cannot send: link lost",
  });
  assert.equal(log.pending.length, 0, "nothing went to the log");
  one.setUnavailable(undefined);
  assert.equal(ann.lastNotice(), "Cluster link back: you can send again");
  const outcome = a.request({ kind: "say", text: "hi", ref: "3" });
  assert.ok(outcome.ok && outcome.pending !== undefined);
});

Deno.test("a message the hub has already received is not delivered twice", () => {
  const { one } = twoHubs();
  const ann = new FakeMember("ann", "user", "id-ann");
  one.enter(ann);
  const message: RoomMessage = {
    kind: "message",
    id: 7,
    room: "lobby",
    from: "x",
    text: "t",
    ts: 0,
  };
  one.receive({ message });
  one.receive({ message });
  assert.deepEqual(ann.messages().map((m) => m.id), [7]);
});

Deno.test("users online on other instances are in /who and the room's members, and their comings and goings are told", () => {
  const { one, log } = twoHubs();
  const ann = new FakeMember("ann", "user", "id-ann");
  const a = one.enter(ann);
  log.remote = [{ account: "id-zed", name: "zed" }];
  a.input("/who");
  assert.match(ann.lastNotice(), /zed/);
  // A wide session is told when a user comes online elsewhere.
  const wide = Object.assign(new FakeMember("bob", "user", "id-bob"), { view: "all" as const });
  one.enter(wide);
  one.followPresence("id-zed", "zed", false);
  const presence = wide.events.filter((e) => e.kind === "presence").at(-1);
  assert.deepEqual(presence && { user: presence.user, online: presence.online }, {
    user: "zed",
    online: false,
  });
  // Online here: this hub's own news stands.
  wide.clear();
  one.followPresence("id-ann", "ann", false);
  assert.deepEqual(wide.events.filter((e) => e.kind === "presence"), []);
});

Deno.test("a kick of a user online only elsewhere is reported for the other instances to close", () => {
  const events: unknown[] = [];
  const log = new FakeLog();
  const { hub } = makeHub({
    relay: log.relay(),
    onModeration: (event) => events.push(event),
    roleOf: (name) => name === "root" ? "admin" : "user",
  });
  const root = new FakeMember("root", "admin", "id-root");
  const r = hub.enter(root);
  r.input("/kick zed");
  assert.match(root.lastNotice(), /not online/);
  log.remote = [{ account: "id-zed", name: "zed" }];
  r.input("/kick zed spam");
  assert.deepEqual(events.at(-1), {
    action: "kick",
    by: "root",
    target: "zed",
    message: "Kicked by root: spam",
  });
});
