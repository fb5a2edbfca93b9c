// Makes the generated JSON schemas of the OpenAPI document easy on client generators
// (openapi-typescript, openapi-generator, …), whatever zod and zod-openapi emit:
// - one nullable form throughout: `anyOf: [<schema>, { type: "null" }]` (zod-openapi writes
//   `type: ["string", "null"]` for some and `anyOf` for others);
// - no ±(2^53 - 1) bounds on integers (zod's `.int()` adds them; they say nothing and overflow
//   32-bit integer types in some generators);
// - responses never forbid additional properties, so a field added to a response later does not
//   break a client that validates responses. Request bodies keep theirs: the server does reject
//   unknown fields there.
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (value: Json | undefined): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);

/** Keys that describe a schema as a whole; they stay outside the `anyOf` of a nullable one. */
const ANNOTATIONS = new Set(["description", "title", "default", "examples", "deprecated", "readOnly", "writeOnly"]);

function nullableAsAnyOf(schema: JsonObject): JsonObject {
  const types = schema.type;
  if (!Array.isArray(types) || types.length !== 2 || !types.includes("null")) return schema;
  const outer: JsonObject = {};
  const inner: JsonObject = { type: types.find((type) => type !== "null")! };
  for (const [key, value] of Object.entries(schema)) {
    if (key === "type") continue;
    (ANNOTATIONS.has(key) ? outer : inner)[key] = value;
  }
  return { anyOf: [inner, { type: "null" }], ...outer };
}

function withoutSafeIntegerBounds(schema: JsonObject): JsonObject {
  if (schema.type !== "integer") return schema;
  const { minimum, maximum, ...rest } = schema;
  return {
    ...rest,
    ...(minimum === -MAX_SAFE || minimum === undefined ? {} : { minimum }),
    ...(maximum === MAX_SAFE || maximum === undefined ? {} : { maximum }),
  };
}

/** Rewrites every schema under `node`; `open` drops `additionalProperties: false`. */
export function normalizeSchemas(node: Json, options: { open: boolean }): Json {
  if (Array.isArray(node)) return node.map((item) => normalizeSchemas(item, options));
  if (!isObject(node)) return node;
  let schema: JsonObject = Object.fromEntries(Object.entries(node).map(([key, value]) => [key, normalizeSchemas(value, options)]));
  schema = withoutSafeIntegerBounds(nullableAsAnyOf(schema));
  if (options.open && schema.additionalProperties === false) delete schema.additionalProperties;
  return schema;
}
