import type { Job, JsonValue } from '../../domain/job.js';
import {
  belongsOutside,
  type LargeValueName,
  refAttribute,
  type ValueRef,
} from '../../domain/large-values.js';
import { jobValuesPrefix, type LargeValueStore } from '../large-value-store.js';
import { type JobItem, newJobItem } from './job-item.js';

/** A value's part of an UpdateExpression: set it where it belongs, remove it from the other place. */
export interface PlacedValue {
  set: string;
  remove: string;
  names: Record<string, string>;
  values: Record<string, unknown>;
}

/** Values a client reads on the job itself. */
export const PUBLIC_VALUES = ['input', 'metadata', 'result'] as const satisfies readonly LargeValueName[];
/** Values a step reads. */
export const STEP_VALUES = ['input', 'agentState', 'answer'] as const satisfies readonly LargeValueName[];

/** Both places of each value, for writes that drop it wherever it is. */
export const anywhere = (...names: LargeValueName[]) =>
  names.flatMap((name) => [name, refAttribute(name)]).join(', ');

type ItemValues = Record<string, unknown>;

/**
 * Where a job's values go: small ones stay in the job item, large ones go to the value store and
 * the item keeps their reference (claim-check). Reads put the values back in place of references.
 * Without a value store (a function granted none), large values cannot be written and references
 * are left for `toJob` to report as omitted.
 */
export class JobValues {
  constructor(private readonly store: LargeValueStore | undefined) {}

  /** The item of a new job, its large input and metadata stored outside it. */
  async newItem(job: Job, fingerprint: string): Promise<JobItem> {
    const item = newJobItem(job, fingerprint) as unknown as ItemValues;
    await Promise.all(
      (['input', 'metadata'] as const).map(async (name) => {
        if (!belongsOutside(item[name])) return;
        item[refAttribute(name)] = await this.put(job.tenant, job.id, name, item[name] as JsonValue);
        delete item[name];
      }),
    );
    return item as unknown as JobItem;
  }

  /** The update parts that store `value` as `name`; `tag` names its placeholders. */
  async place(tenant: string, id: string, name: LargeValueName, value: JsonValue, tag: string) {
    const outside = belongsOutside(value);
    const [here, there] = outside ? [refAttribute(name), name] : [name, refAttribute(name)];
    const stored = outside ? await this.put(tenant, id, name, value) : value;
    return {
      set: `#${tag} = :${tag}`,
      remove: `#${tag}Other`,
      names: { [`#${tag}`]: here, [`#${tag}Other`]: there },
      values: { [`:${tag}`]: stored },
    } satisfies PlacedValue;
  }

  /** The item with the values `names` read back in place of their references (changed in place). */
  async hydrate<T extends object>(item: T, names: readonly LargeValueName[]): Promise<T> {
    const values = item as ItemValues;
    if (!this.store) return item;
    await Promise.all(
      names.map(async (name) => {
        const ref = values[refAttribute(name)] as ValueRef | undefined;
        if (!ref) return;
        values[name] = await this.store!.get(ref);
        delete values[refAttribute(name)];
      }),
    );
    return item;
  }

  private put(tenant: string, id: string, name: LargeValueName, value: JsonValue): Promise<ValueRef> {
    if (!this.store) {
      throw new Error(`a ${name} of this size needs the value store, and this function has none`);
    }
    return this.store.put(`${jobValuesPrefix(tenant, id)}/${name}`, value);
  }
}
