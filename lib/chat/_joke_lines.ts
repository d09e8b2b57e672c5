/**
 * What of a joke gets posted: {@linkcode jokeLines} and
 * {@linkcode jokeProblem}.
 *
 * @module
 */
import type { Joke } from "./jokes.ts";

/** Most lines of one joke that get posted. */
const MAX_JOKE_LINES = 4;
/** Longest joke-service problem text shown to the requester. */
const MAX_PROBLEM_LENGTH = 200;

/**
 * The lines of a joke as posted: trimmed, cut to `maxChars`, blank ones
 * dropped, at most four; an offline joke's first line says so.
 *
 * @param joke The joke.
 * @param maxChars The longest message.
 * @returns The lines, none when the joke had nothing to say.
 */
export function jokeLines(joke: Joke, maxChars: number): string[] {
  const lines = joke.lines
    .map((line) => line.trim().slice(0, maxChars))
    .filter((line) => line !== "")
    .slice(0, MAX_JOKE_LINES);
  if (lines.length > 0 && joke.source === "offline") lines[0] = `(offline joke) ${lines[0]}`;
  return lines;
}

/**
 * Why an offline joke was told instead of the service's, cut to a
 * bounded length.
 *
 * @param joke The joke.
 * @returns The problem, `undefined` for a service joke or when none was given.
 */
export function jokeProblem(joke: Joke): string | undefined {
  if (joke.source !== "offline" || joke.problem === undefined) return undefined;
  return joke.problem.slice(0, MAX_PROBLEM_LENGTH);
}
