export * from "./events.js";
export * from "./queue.js";
export * from "./resources.js";
export * from "./restores.js";
export * from "./schedules.js";
export * from "./scopes.js";
export * from "./security.js";
export * from "./webhooks.js";
