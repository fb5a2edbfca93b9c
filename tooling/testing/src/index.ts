export * from "./postgres.js";
export * from "./redis.js";
export * from "./wait.js";
export * from "./processes.js";
export * from "./stack.js";
export * from "./private-postgres.js";
export * from "./s3-server.js";
export * from "./private-redis.js";
