// Concurrent calls that share one statement. Calls made in the same turn of the event loop (the
// requests one poll of the sockets brings in) are collected and answered by a single statement
// run at setImmediate, i.e. after every one of them arrived: each call still reads what Postgres
// holds after it was made (a write committed before a request arrived is in its answer), and
// nothing is remembered between turns (DataLoader with its cache off). Why: each statement costs
// the API process a loopback send and receive and pg's parsing of one result (~40 µs of CPU for
// a one-row read on the bench machine), the same for 1 row or 20; a poll that brings in ten
// requests now pays for one (bench/api-throughput).
import DataLoader from "dataloader";
import type { Db } from "./client.js";

/** One call's answer, or the error that call alone gets (a statement's error rejects every call in it). */
export type Answer<V> = V | Error;

export interface SharedStatementOptions<K> {
  /** Names the statement to observers (onSharedStatement). */
  name: string;
  /** Most calls one statement answers. */
  maxCalls: number;
  /**
   * What makes two calls identical: those of one statement are asked once and all get the very
   * same answer. Without it, every call is asked on its own.
   */
  keyOf?: (call: K) => string;
}

type Observer = (statement: string, calls: number) => void;
const observers = new Set<Observer>();

/** Tells `observer` how many calls each shared statement answers, as it runs (metrics); returns the way to stop. */
export function onSharedStatement(observer: Observer): () => void {
  observers.add(observer);
  return () => observers.delete(observer);
}

/**
 * `run(db, calls)` answers every call collected in one turn, in their order; the returned
 * function makes one call. One collector per pool (per Db).
 */
export function sharedStatement<K, V>(
  run: (db: Db, calls: readonly K[]) => Promise<Answer<V>[]>,
  { name, maxCalls, keyOf }: SharedStatementOptions<K>,
): (db: Db, call: K) => Promise<V> {
  const collectors = new WeakMap<Db, DataLoader<K, V>>();
  const runObserved = (db: Db, calls: readonly K[]) => {
    for (const observe of observers) observe(name, calls.length);
    return keyOf ? runDistinct(db, calls, keyOf) : run(db, calls);
  };
  /** `run` for the distinct calls only; identical calls get the one answer. */
  const runDistinct = async (db: Db, calls: readonly K[], keyOf: (call: K) => string) => {
    const slots = new Map<string, number>();
    const distinct: K[] = [];
    const slotOf = calls.map((call) => {
      const key = keyOf(call);
      let slot = slots.get(key);
      if (slot === undefined) {
        slot = distinct.push(call) - 1;
        slots.set(key, slot);
      }
      return slot;
    });
    const answers = await run(db, distinct);
    return slotOf.map((slot) => answers[slot]!);
  };
  return (db, call) => {
    let collector = collectors.get(db);
    if (!collector) {
      collector = new DataLoader<K, V>((calls) => runObserved(db, calls), {
        cache: false,
        maxBatchSize: maxCalls,
        batchScheduleFn: (dispatch) => setImmediate(dispatch),
      });
      collectors.set(db, collector);
    }
    return collector.load(call);
  };
}

/** `rows` by `keyOf`, each group in the rows' order. */
export function groupBy<T>(rows: readonly T[], keyOf: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const key = keyOf(row);
    const group = groups.get(key);
    if (group) group.push(row);
    else groups.set(key, [row]);
  }
  return groups;
}
