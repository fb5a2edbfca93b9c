// Route-level hooks added from an onRoute hook (so routes of every plugin scope get them as they
// are defined): Fastify gives a route's own hooks as undefined, one function or an array.

/** The route's `hooks` with `hook` run after them. */
export function appendHook<T>(hooks: T | T[] | undefined, hook: T): T[] {
  if (hooks === undefined) return [hook];
  return Array.isArray(hooks) ? [...hooks, hook] : [hooks, hook];
}
