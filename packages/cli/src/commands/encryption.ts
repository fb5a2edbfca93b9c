// capy encryption recipients list | add | remove, capy encryption keys list, capy encryption rotate.
// Artifacts are encrypted (age) to the project's current platform key and to every recipient the
// project added, so a recipient's owner decrypts `capy backups download --raw` output offline.
import type { Command } from "commander";
import type { CliEnvironment } from "../env.js";
import { printJson, printKeyValue, printTable, shortTime } from "../output.js";
import { withContext } from "./shared.js";

const DECRYPT_HINT =
  "Artifacts made from now on are encrypted to it. Decrypt one offline: capy backups download <backupID> --raw, then\n" +
  "  age -d -i key.txt <file>.dump.zst.age | zstd -d | pg_restore -d <target>";

function registerRecipients(encryption: Command, env: CliEnvironment): void {
  const recipients = encryption.command("recipients").description("your own public keys that new artifacts are also encrypted to");

  recipients
    .command("list")
    .description("list the project's encryption recipients, oldest first")
    .action(
      withContext<[], object>(env, async (ctx) => {
        const result = await ctx.client().encryption.listRecipients.query({ id: ctx.projectId() });
        if (ctx.output.json) return printJson(ctx.output, result);
        if (result.encryption_recipients.length === 0) return ctx.output.out("no encryption recipients yet (capy encryption recipients add age1… --label …)");
        printTable(
          ctx.output,
          ["id", "label", "public key", "added"],
          result.encryption_recipients.map((r) => [r.id, r.label, r.public_key, shortTime(r.created_at)]),
        );
      }),
    );

  recipients
    .command("add")
    .description("add an age public key (age1…, from `age-keygen`) that new artifacts are encrypted to")
    .argument("<publicKey>", "age X25519 public key (age1…); `age-keygen -y key.txt` prints the one of an identity file")
    .requiredOption("--label <text>", "whose key this is")
    .action(
      withContext<[string], { label: string }>(env, async (ctx, options, publicKey) => {
        const result = await ctx.client().encryption.addRecipient.mutate({ id: ctx.projectId(), label: options.label, public_key: publicKey });
        if (ctx.output.json) return printJson(ctx.output, result);
        const recipient = result.encryption_recipient;
        printKeyValue(ctx.output, [
          ["id", recipient.id],
          ["label", recipient.label],
          ["public_key", recipient.public_key],
          ["fingerprint", recipient.fingerprint],
        ]);
        ctx.output.err(DECRYPT_HINT);
      }),
    );

  recipients
    .command("remove")
    .description("stop encrypting new artifacts to a recipient (artifacts made earlier stay encrypted to it)")
    .argument("<recipientID>", "recipient id (rcp_…)")
    .action(
      withContext<[string], object>(env, async (ctx, _options, recipientId) => {
        const result = await ctx.client().encryption.removeRecipient.mutate({ id: ctx.projectId(), recipientID: recipientId });
        if (ctx.output.json) return printJson(ctx.output, result);
        ctx.output.out(`${result.encryption_recipient.id} removed`);
      }),
    );
}

export function registerEncryption(program: Command, env: CliEnvironment): void {
  const encryption = program.command("encryption").description("keys that backup artifacts are encrypted to (age)");
  registerRecipients(encryption, env);

  encryption
    .command("keys")
    .description("the project's platform keys (private parts never leave the platform)")
    .command("list")
    .description("list the project's platform keys, newest first (public parts only)")
    .action(
      withContext<[], object>(env, async (ctx) => {
        const result = await ctx.client().encryption.listKeys.query({ id: ctx.projectId() });
        if (ctx.output.json) return printJson(ctx.output, result);
        if (result.encryption_keys.length === 0) return ctx.output.out("no platform key yet: the project's first backup makes one");
        printTable(
          ctx.output,
          ["id", "current", "public key", "created", "retired"],
          result.encryption_keys.map((k) => [k.id, k.current ? "yes" : "no", k.public_key, shortTime(k.created_at), shortTime(k.retired_at)]),
        );
      }),
    );

  encryption
    .command("rotate")
    .description("make a new platform key for new artifacts; older artifacts keep their key and stay readable")
    .action(
      withContext<[], object>(env, async (ctx) => {
        const result = await ctx.client().encryption.rotateKey.mutate({ id: ctx.projectId() });
        if (ctx.output.json) return printJson(ctx.output, result);
        printKeyValue(ctx.output, [
          ["id", result.encryption_key.id],
          ["public_key", result.encryption_key.public_key],
          ["created", shortTime(result.encryption_key.created_at)],
        ]);
        ctx.output.err("New artifacts are encrypted to this key; older ones keep theirs (capy encryption keys list).");
      }),
    );
}
