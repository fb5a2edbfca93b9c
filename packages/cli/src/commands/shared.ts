// Helpers every command module uses: option parsers and the action wrapper that builds the context.
import { type Command, InvalidArgumentError } from "commander";
import { type Context, createContext } from "../context.js";
import type { CliEnvironment } from "../env.js";

export function intParser(name: string, min: number, max: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}.`);
    }
    return parsed;
  };
}

/**
 * Wraps a command body: commander passes positional arguments, then the command's options,
 * then the command itself; the body gets the resolved context plus those.
 */
export function withContext<Args extends unknown[], Options>(env: CliEnvironment, body: (context: Context, options: Options, ...args: Args) => Promise<void>) {
  return async (...received: unknown[]): Promise<void> => {
    const command = received[received.length - 1] as Command;
    const options = received[received.length - 2] as Options;
    const args = received.slice(0, -2) as Args;
    await body(createContext(command, env), options, ...args);
  };
}
