// Global options + environment → a configured client, the project id and the output mode.

import { type CapyClient, createCapyClient } from "@capy/sdk";
import type { Command } from "commander";
import type { CliEnvironment } from "./env.js";
import { CliError, EXIT } from "./errors.js";
import { createOutput, type Output } from "./output.js";

export interface GlobalOptions {
  apiUrl?: string;
  apiKey?: string;
  project?: string;
  json?: boolean;
}

export interface Context {
  output: Output;
  apiUrl: string;
  client(): CapyClient;
  projectId(): string;
}

/** Holds the resolved API URL so errors raised before or after a command can name it. */
export const lastApiUrl: { value: string | undefined } = { value: undefined };

export function resolveApiUrl(raw: string | undefined): string {
  if (!raw) throw new CliError("no API URL: set CAPY_API_URL or pass --api-url (e.g. http://127.0.0.1:3000)", EXIT.USAGE);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`invalid API URL ${JSON.stringify(raw)}: expected e.g. http://127.0.0.1:3000`, EXIT.USAGE);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CliError(`invalid API URL ${JSON.stringify(raw)}: only http:// and https:// are supported`, EXIT.USAGE);
  }
  return url.toString().replace(/\/+$/, "");
}

export function createContext(command: Command, env: CliEnvironment): Context {
  const options = command.optsWithGlobals<GlobalOptions>();
  const rawUrl = options.apiUrl ?? env.apiUrl;
  lastApiUrl.value = rawUrl;
  const apiUrl = resolveApiUrl(rawUrl);
  lastApiUrl.value = apiUrl;
  const output = createOutput(Boolean(options.json), env.plain);
  let client: CapyClient | undefined;
  return {
    output,
    apiUrl,
    client() {
      const apiKey = options.apiKey ?? env.apiKey;
      if (!apiKey) throw new CliError("no API key: set CAPY_API_KEY or pass --api-key capy_live_…", EXIT.UNAUTHORIZED);
      client ??= createCapyClient({ baseUrl: apiUrl, apiKey });
      return client;
    },
    projectId() {
      const project = options.project ?? env.projectId;
      if (!project) throw new CliError("no project: pass --project prj_… or set CAPY_PROJECT_ID", EXIT.USAGE);
      return project;
    },
  };
}
