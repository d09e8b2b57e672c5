import { equal } from "node:assert/strict";
import { fitWidth, renderPrompt, renderStatus } from "../../lib/terminal/status_line.ts";

const VIEW = {
  self: "alice",
  current: "lobby",
  others: [],
  away: false,
  connection: "connected",
};

Deno.test("renderPrompt() is [#room] nick> and names the connection state when not connected", () => {
  equal(renderPrompt(VIEW), "[#lobby] alice> ");
  equal(renderPrompt({ ...VIEW, connection: "disconnected" }), "(disconnected) [#lobby] alice> ");
  equal(renderPrompt({ ...VIEW, current: undefined }), "alice> ");
});

Deno.test("renderPrompt() sanitises names from the server", () => {
  equal(renderPrompt({ ...VIEW, current: "lob\x1b[2Jby", self: "al ice" }), "[#lobby] al_ice> ");
});

Deno.test("renderStatus() lists only rooms with activity, ! for mentions", () => {
  const others = [
    { name: "dev", unread: 3, mentioned: 0 },
    { name: "quiet", unread: 0, mentioned: 0 },
    { name: "ops", unread: 1, mentioned: 1 },
  ];
  equal(renderStatus({ ...VIEW, others }), "[#lobby] alice | Act: #dev(3) #ops(1!)");
});

Deno.test("renderStatus() shows away, the connection and pending lines", () => {
  equal(
    renderStatus({ ...VIEW, away: true, connection: "disconnected", pending: 2 }),
    "[#lobby] alice [away] [disconnected] [2 pending]",
  );
});

Deno.test("renderStatus() is cut to the width minus one with …, never wrapped", () => {
  const others = Array.from(
    { length: 20 },
    (_, i) => ({ name: `room${i}`, unread: i + 1, mentioned: 0 }),
  );
  const line = renderStatus({ ...VIEW, others }, 40);
  equal(line.length, 39);
  equal(line.endsWith("…"), true);
  equal(fitWidth("日本語です", 6), "日本…");
  equal(fitWidth("short", 40), "short");
});

Deno.test("renderStatus() numbers every room at the end when there are several", () => {
  const view = {
    self: "alice",
    current: "lobby",
    others: [{ name: "dev", unread: 3, mentioned: 0 }],
    away: false,
    connection: "connected",
  };
  equal(
    renderStatus({ ...view, rooms: ["lobby", "dev"] }),
    "[#lobby] alice | Act: #dev(3) | 1:#lobby 2:#dev",
  );
  equal(renderStatus({ ...view, rooms: ["lobby"] }), "[#lobby] alice | Act: #dev(3)");
});
