// The JSON body of a delivery: the event envelope `{ id, type, created_at, data }`. It is
// serialised once, stored on the delivery row, and sent (and signed) byte for byte on every
// attempt, so a receiver verifying any attempt checks the same bytes.

export interface EventEnvelope {
  /** `evt_…` */
  id: string;
  type: string;
  /** ISO-8601 UTC. */
  created_at: string;
  data: unknown;
}

export function envelopeBody(event: EventEnvelope): string {
  return JSON.stringify({ id: event.id, type: event.type, created_at: event.created_at, data: event.data });
}

/** Headers of one attempt (the signature is computed per attempt: its timestamp is the send time). */
export function deliveryHeaders(input: { eventType: string; deliveryId: string; signature: string }): Record<string, string> {
  return {
    "X-CapyDB-Event": input.eventType,
    "X-CapyDB-Delivery": input.deliveryId,
    "X-CapyDB-Signature": input.signature,
  };
}
