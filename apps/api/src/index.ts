// The package's public entry, for the SDK: types only, so importing it loads no server code.
// Context and Meta are part of AppRouter's type; exporting them lets declaration emit in
// dependants name them through "@capy/api".

export type { Context } from "./context.js";
export type { AppRouter } from "./router.js";
export type { Meta } from "./trpc.js";
