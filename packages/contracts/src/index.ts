export * from "./resources.js";
export * from "./scopes.js";
export * from "./jobs.js";
