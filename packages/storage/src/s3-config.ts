// S3 backend configuration as plain data, and its reading from environment variables. The apps'
// Zod-validated env modules call `s3ConfigFromEnv(theirEnv)`; this package never reads process.env.

export interface S3Config {
  /** Endpoint URL of an S3-compatible store (MinIO, Ceph, R2, s3rver…); omit for AWS S3. */
  endpoint?: string;
  /** Signing region, e.g. "eu-west-1"; S3-compatible stores usually accept "us-east-1". */
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Path-style URLs (http://host/bucket/key) instead of virtual-host style; most non-AWS stores need it. */
  forcePathStyle: boolean;
  /** Namespace inside the bucket, e.g. "capy/prod": key K is stored as "capy/prod/K". */
  keyPrefix?: string;
  /** Multipart part size in MiB (default 8; the largest object is 10,000 parts). */
  partSizeMiB?: number;
}

/** Default region when S3_REGION is unset: what AWS's own tools assume and S3-compatible stores accept. */
export const DEFAULT_S3_REGION = "us-east-1";

const TRUE_WORDS = new Set(["1", "true", "yes", "on"]);
const FALSE_WORDS = new Set(["0", "false", "no", "off"]);

/**
 * The S3 configuration described by S3_ENDPOINT, S3_REGION, S3_BUCKET, S3_ACCESS_KEY_ID,
 * S3_SECRET_ACCESS_KEY, S3_FORCE_PATH_STYLE and S3_KEY_PREFIX in `env`, or `undefined` when
 * S3_BUCKET is unset or empty (then the filesystem backend is used). Empty strings count as unset.
 * Throws an Error naming every missing or malformed variable.
 * Defaults: region "us-east-1"; path-style on when S3_ENDPOINT is set (S3-compatible stores), off
 * for AWS.
 */
export function s3ConfigFromEnv(env: Record<string, string | undefined>): S3Config | undefined {
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const bucket = read("S3_BUCKET");
  if (!bucket) return undefined;

  const problems: string[] = [];
  const endpoint = read("S3_ENDPOINT");
  if (endpoint !== undefined && !isHttpUrl(endpoint)) problems.push(`S3_ENDPOINT must be an http(s) URL, got "${endpoint}"`);
  const accessKeyId = read("S3_ACCESS_KEY_ID");
  if (!accessKeyId) problems.push("S3_ACCESS_KEY_ID is required when S3_BUCKET is set");
  const secretAccessKey = read("S3_SECRET_ACCESS_KEY");
  if (!secretAccessKey) problems.push("S3_SECRET_ACCESS_KEY is required when S3_BUCKET is set");

  let forcePathStyle = endpoint !== undefined;
  const pathStyle = read("S3_FORCE_PATH_STYLE")?.toLowerCase();
  if (pathStyle !== undefined) {
    if (TRUE_WORDS.has(pathStyle)) forcePathStyle = true;
    else if (FALSE_WORDS.has(pathStyle)) forcePathStyle = false;
    else problems.push(`S3_FORCE_PATH_STYLE must be true or false, got "${pathStyle}"`);
  }

  if (problems.length > 0 || !accessKeyId || !secretAccessKey) {
    throw new Error(`invalid S3 configuration: ${problems.join("; ")}`);
  }
  const keyPrefix = read("S3_KEY_PREFIX");
  const partSize = read("S3_PART_SIZE_MIB");
  const partSizeMiB = partSize === undefined ? undefined : Number(partSize);
  if (partSizeMiB !== undefined && !(Number.isInteger(partSizeMiB) && partSizeMiB >= 5 && partSizeMiB <= 5120)) {
    throw new Error(`invalid S3 configuration: S3_PART_SIZE_MIB must be a whole number from 5 to 5120, got "${partSize}"`);
  }
  return {
    ...(endpoint !== undefined && { endpoint }),
    region: read("S3_REGION") ?? DEFAULT_S3_REGION,
    bucket,
    accessKeyId,
    secretAccessKey,
    forcePathStyle,
    ...(keyPrefix !== undefined && { keyPrefix }),
    ...(partSizeMiB !== undefined && { partSizeMiB }),
  };
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}
