// An endpoint's health, from its attempts: a success makes it healthy; a failure makes it
// failing, and disabled once it has been failing (no success in between) for disableAfterMs.
// A disabled endpoint gets no new deliveries until its owner sets is_active to true again.
import type { Prisma } from "@capy/db";

/** Health is written in the transaction that records the attempt (webhooks/attempt.ts). */
type Tx = Prisma.TransactionClient;

export async function recordEndpointSuccess(db: Tx, webhookId: string): Promise<void> {
  await db.webhook.updateMany({ where: { id: webhookId, health: "failing" }, data: { health: "healthy", failingSince: null } });
}

/** One conditional statement, so concurrent failures agree on when the failing streak began. */
export async function recordEndpointFailure(db: Tx, webhookId: string, disableAfterMs: number): Promise<void> {
  await db.$executeRaw`
    UPDATE webhooks
       SET failing_since = COALESCE(failing_since, now()),
           health = CASE WHEN COALESCE(failing_since, now()) <= now() - make_interval(secs => ${disableAfterMs / 1000}) THEN 'disabled' ELSE 'failing' END,
           updated_at = now()
     WHERE id = ${webhookId} AND health <> 'disabled'`;
}
