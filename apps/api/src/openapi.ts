// The OpenAPI 3.1 document of /v1: generated from the router's procedures by trpc-to-openapi,
// plus the download route (not a procedure), then given this API's conventions: paths under
// /v1, the deployment's public URL as the server, every error the server sends as
// `{ "error": "…" }`, each operation's real success status, and schemas client generators take
// as they are (openapi-schemas.ts).
import { ErrorBody } from "@capy/contracts";
import { generateOpenApiDocument, type OpenAPIObject, type SecuritySchemeObject } from "trpc-to-openapi";
import { z } from "zod";
import type { ZodOpenApiPathsObject } from "zod-openapi";
import { normalizeSchemas } from "./openapi-schemas.js";
import { restOperations } from "./rest-operations.js";
import { appRouter } from "./router.js";
import { projectId } from "./routers/fields.js";

const SECURITY_SCHEMES: Record<string, SecuritySchemeObject> = {
  bearerAuth: { type: "http", scheme: "bearer", description: "`Authorization: Bearer capy_live_…` (API key) or `Authorization: Bearer <session JWT>`" },
  apiKeyHeader: { type: "apiKey", in: "header", name: "X-API-Key", description: "`X-API-Key: capy_live_…`" },
};
/** Either scheme is enough (OpenAPI lists alternatives). */
const SECURITY = Object.keys(SECURITY_SCHEMES).map((name) => ({ [name]: [] }));

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "Invalid input",
  401: "Missing, invalid, revoked or expired API key or session token",
  403: "The credential lacks the required scope",
  404: "Unknown, or not visible to this credential",
  409: "Conflicts with the resource's state",
  413: "Request body too large",
  429: "Rate limited; see Retry-After",
  500: "Internal error",
  503: "The metadata database is unreachable; retry later",
};

const errorResponses = (statuses: number[]) =>
  Object.fromEntries(
    statuses.map((status) => [
      String(status),
      {
        description: ERROR_DESCRIPTIONS[status] ?? "Error",
        content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
      },
    ]),
  );

/** Every operation: bad input, authentication, scope, not found, rate limit, internal, outage. */
const COMMON_ERRORS = [400, 401, 403, 404, 429, 500, 503];
/** Operations taking a body: larger than BODY_LIMIT_BYTES. */
const BODY_ERRORS = [413];
const BODY_METHODS = new Set(["put", "post", "patch"]);

/** Operations that are not procedures, with the scope they require. */
const EXTRA_SCOPES: Record<string, string> = { downloadBackup: "backups:read" };

const downloadPath: ZodOpenApiPathsObject = {
  "/projects/{id}/backups/{backupID}/download": {
    get: {
      operationId: "downloadBackup",
      tags: ["backups"],
      summary: "Download a backup's artifact",
      description:
        "Streams the backup's pg_dump archive (custom format), ready for pg_restore: an encrypted artifact (encryption `age`) is decrypted and one stored zstd-compressed (stored_encoding `zstd`) decompressed on the fly. With `encoding=stored`, the stored bytes as they are: for encryption `age`, an age-encrypted `.dump.zst.age` (or `.dump.age`) file that any of the project's encryption recipients decrypts offline (`age -d -i key.txt`, then `zstd -d` for stored_encoding `zstd`); for stored_encoding `zstd`, a `.dump.zst` file (`zstd -d` gives the archive). 409 when the key an encrypted artifact needs is missing or does not open it.",
      security: SECURITY,
      requestParams: {
        path: z.object({ id: projectId, backupID: z.string().min(1).describe("Backup id (`bkp_…`)") }),
        query: z.object({
          encoding: z.enum(["archive", "stored"]).optional().describe("archive (default): a pg_restore-ready archive; stored: the stored bytes as they are"),
        }),
      },
      responses: {
        200: {
          description: "The archive (or, with encoding=stored, the stored bytes)",
          headers: {
            "Content-Length": { description: "Bytes delivered, when known in advance", schema: { type: "integer" } },
            "Content-Disposition": {
              description:
                'attachment; filename="<database>-<backup id>.dump" (stored bytes: ".dump.zst" for zstd, ".dump.zst.age" or ".dump.age" when encrypted)',
              schema: { type: "string" },
            },
          },
          content: {
            "application/octet-stream": { schema: { type: "string", contentMediaType: "application/octet-stream" } },
            "application/zstd": { schema: { type: "string", contentMediaType: "application/zstd" } },
          },
        },
        // 409: the key an encrypted artifact needs is missing or does not open it. The common
        // error responses are added to every operation below.
        ...errorResponses([409]),
      },
    },
  },
};

export interface OpenApiOptions {
  /** The API's public base URL (CAPY_PUBLIC_URL), the document's one server. */
  publicUrl: string;
}

export function buildOpenApiDocument(options: OpenApiOptions): OpenAPIObject {
  const generated = generateOpenApiDocument(appRouter, {
    title: "Capy Backups API",
    description:
      "Backups of managed PostgreSQL databases: on-demand backups, a daily schedule, jobs and downloads, restores into preview databases or over the project.",
    version: "1.0.0",
    baseUrl: "/",
    securitySchemes: SECURITY_SCHEMES,
    defs: { Error: ErrorBody },
    paths: downloadPath,
  });
  return applyRestConventions({ ...generated, servers: [{ url: options.publicUrl }], security: SECURITY });
}

const METHODS = ["get", "put", "post", "patch", "delete"] as const;

/** The part of a generated request body this file reads. */
interface JsonRequestBody {
  required?: boolean;
  content: Record<string, { schema?: { required?: string[] } }>;
}

function applyRestConventions(doc: OpenAPIObject): OpenAPIObject {
  const successStatus = new Map(restOperations.map((operation) => [operation.operationId, operation.successStatus]));
  const scopes = new Map<string | undefined, string | undefined>([
    ...restOperations.map((operation) => [operation.operationId, operation.scope] as const),
    ...Object.entries(EXTRA_SCOPES),
  ]);
  const paths: NonNullable<OpenAPIObject["paths"]> = {};
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const responses = operation.responses as Record<string, unknown>;
      const codes = Object.keys(responses).map(Number);
      const successes = codes.filter((code) => code < 400);
      const errors = new Set([...COMMON_ERRORS, ...(BODY_METHODS.has(method) ? BODY_ERRORS : []), ...codes.filter((code) => code >= 400)]);
      const status = successStatus.get(operation.operationId) ?? 200;
      // The REST layer reads an absent body as `{}`: a body with no required field is optional.
      const body = operation.requestBody as JsonRequestBody | undefined;
      if (body?.required && !body.content["application/json"]?.schema?.required?.length) body.required = false;
      // Machine-readable required scope (absent: any authenticated caller); the authorization
      // matrix test reads it, so new operations are covered automatically.
      const scope = scopes.get(operation.operationId);
      if (scope) {
        (operation as Record<string, unknown>)["x-required-scope"] = scope;
        operation.description = [operation.description, `Requires scope \`${scope}\`.`].filter(Boolean).join(" ");
      }
      operation.responses = normalize({
        ...Object.fromEntries(successes.map((code) => [code === 200 ? String(status) : String(code), responses[code]])),
        ...errorResponses([...errors].sort((a, b) => a - b)),
      });
      if (operation.requestBody) operation.requestBody = normalize(operation.requestBody, { open: false });
      if (operation.parameters) operation.parameters = normalize(operation.parameters, { open: false });
    }
    paths[`/v1${path}`] = item;
  }
  // trpc-to-openapi's own error schemas (`{ message, code, issues }`) describe nothing we send.
  // The named schemas are response shapes.
  const schemas = Object.fromEntries(Object.entries(doc.components?.schemas ?? {}).filter(([name]) => !name.startsWith("error.")));
  return { ...doc, paths, components: { ...doc.components, schemas: normalize(schemas) } };
}

/** normalizeSchemas, typed as the document part it rewrites (responses are open by default). */
const normalize = <T>(part: T, options = { open: true }): T => normalizeSchemas(part as never, options) as T;
