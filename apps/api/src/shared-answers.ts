// Identical reads in one turn of the event loop share one answer. The reads are shared
// statements (@capy/db shared-statements.ts): the calls one turn brings in are answered by one
// statement, and identical calls get the very same rows (the same frozen list, the same row
// object). What the API makes of those rows is made once for them: the public shape
// (renderedOnce, in the procedures), its output validation (parsedOnce, in procedures.ts'
// output middleware) and its JSON (jsonOf, in the REST and native tRPC answers). A renderer
// takes the rows only, never the request's context: what it reads besides them is the clock (a
// schedule's next_run_at), the same for calls answered in one turn. Ten clients polling the same
// list or job (a console's tabs, a fleet of scripts) then cost one rendering instead of ten: for
// the list of 100 backups ~220 µs of CPU per request on the bench machine (serialize 46-74,
// output parse 27-36, JSON.stringify ~125).
// Nothing is remembered between turns: everything is keyed by the rows' identity (WeakMaps),
// the next turn's statement reads Postgres again and returns new rows, so no answer is older
// than its request. Tenancy is checked per call, before the shared rows are rendered; the
// rendering does not depend on who asks. Success answers go out as a string (jsonOf), so a
// Fastify preSerialization hook or response schema on a /v1 route would not see them (there is
// none).

/** Answers rendered once for identical calls, and their parsed outputs: their JSON is shared too. */
const sharedAnswers = new WeakSet<object>();
const jsonAnswers = new WeakMap<object, string>();

/** `made`'s value for `key`, made by `make` the first time. */
function madeOnce<K extends object, V>(made: WeakMap<K, V>, key: K, make: () => V): V {
  if (made.has(key)) return made.get(key) as V;
  const value = make();
  made.set(key, value);
  return value;
}

/** `render` made once per rows object; the answer is marked shared (see the header). */
export function renderedOnce<Rows extends object, Answer extends object>(render: (rows: Rows) => Answer): (rows: Rows) => Answer {
  const answers = new WeakMap<Rows, Answer>();
  return (rows) => madeOnce(answers, rows, () => markShared(render(rows)));
}

/**
 * `parse`, made once per shared answer: its result (a value, or a promise whose value) is
 * shared by the calls and marked shared itself; any other data is parsed every time. A parse
 * that throws is not remembered; a promise that rejects is, for the calls sharing the answer.
 * One per output schema (the output middleware's parse), so an answer parsed by one schema
 * never stands for another's.
 */
export function parsedOnce(parse: (value: unknown) => unknown): (data: unknown) => unknown {
  const parsedAnswers = new WeakMap<object, unknown>();
  const parseShared = (data: object) => {
    const parsed = parse(data);
    if (parsed instanceof Promise) void parsed.then(markShared, () => {});
    else markShared(parsed);
    return parsed;
  };
  return (data) => (isSharedAnswer(data) ? madeOnce(parsedAnswers, data, () => parseShared(data)) : parse(data));
}

/** JSON.stringify(value), made once per shared answer. */
export function jsonOf(value: unknown): string {
  return isSharedAnswer(value) ? madeOnce(jsonAnswers, value, () => JSON.stringify(value)) : JSON.stringify(value);
}

function isSharedAnswer(value: unknown): value is object {
  return typeof value === "object" && value !== null && sharedAnswers.has(value);
}

/** `value`, marked shared when it is an object. */
function markShared<T>(value: T): T {
  if (typeof value === "object" && value !== null) sharedAnswers.add(value);
  return value;
}
