/**
 * A checker for the Prometheus text exposition format 0.0.4, for tests.
 *
 * @module
 */
import { ok } from "node:assert/strict";

/** One line of the text format 0.0.4: a comment or a sample. */
const HELP = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/;
const TYPE = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/;
const SAMPLE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (\S+)$/;

/** Check every line against the grammar; returns samples by `name{labels}`. */
export function parseExposition(text: string): Map<string, number> {
  ok(text.endsWith("\n"), "the text ends with a newline");
  const samples = new Map<string, number>();
  const typed = new Set<string>();
  for (const line of text.slice(0, -1).split("\n")) {
    const help = HELP.exec(line);
    const type = TYPE.exec(line);
    const sample = SAMPLE.exec(line);
    if (type) typed.add(type[1]!);
    if (help || type) continue;
    ok(sample, `not a valid line: ${JSON.stringify(line)}`);
    ok(typed.has(sample[1]!), `${sample[1]} has a TYPE line before its samples`);
    const value = sample[3] === "+Inf" ? Infinity : Number(sample[3]);
    ok(!Number.isNaN(value) || sample[3] === "NaN", `value of ${line}`);
    samples.set(sample[1]! + (sample[2] ?? ""), value);
  }
  return samples;
}
