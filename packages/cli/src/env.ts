// The CLI's environment: the only module of the CLI that reads process.env.
export interface CliEnvironment {
  apiUrl: string | undefined;
  apiKey: string | undefined;
  projectId: string | undefined;
  /** NO_COLOR / dumb terminals: no updating lines or bars even on a TTY. */
  plain: boolean;
}

const nonEmpty = (value: string | undefined) => (value === undefined || value.trim() === "" ? undefined : value.trim());

export function readEnvironment(env: NodeJS.ProcessEnv = process.env): CliEnvironment {
  return {
    apiUrl: nonEmpty(env.CAPY_API_URL),
    apiKey: nonEmpty(env.CAPY_API_KEY),
    projectId: nonEmpty(env.CAPY_PROJECT_ID),
    plain: env.TERM === "dumb" || env.CI !== undefined,
  };
}
