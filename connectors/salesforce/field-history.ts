/**
 * Field History Tracking (`fieldHistory: true`): Salesforce stamps a record, not its fields, so
 * a record read after two saves shows every field at the second save's time, including a field
 * only the first one changed. Its history object (`ContactHistory`, `LeadHistory`) keeps one row
 * per change of a tracked field, with its own time and author; read in the same Composite call
 * as the record, it gives each changed field the time it was really changed at.
 * https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_contacthistory.htm
 */
import type { SalesforceConfig } from './config.js';
import { inList, type FieldChange, type FieldChanges, type RawRecord } from './read.js';
import { parseSalesforceDate, soqlDateTime } from './mapping.js';

/** How far back the history is read: a field last changed earlier keeps the record's time. */
const HISTORY_HORIZON_MS = 24 * 3_600_000;

/** The SOQL of the history rows of these records (the person object's), oldest first. */
export function historyQuery(config: SalesforceConfig, ids: readonly string[], now: number): string {
  const parent = `${config.object}Id`;
  return (
    `SELECT ${parent}, Field, NewValue, CreatedDate, CreatedById FROM ${config.object}History ` +
    `WHERE ${parent} IN ${inList(ids)} AND CreatedDate >= ${soqlDateTime(now - HISTORY_HORIZON_MS)} ORDER BY CreatedDate, Id`
  );
}

/** History rows as each record's last change per field (rows oldest first: a later one wins). */
export function lastChanges(config: SalesforceConfig, rows: readonly RawRecord[]): Map<string, FieldChanges> {
  const out = new Map<string, FieldChanges>();
  for (const row of rows) {
    const id = row[`${config.object}Id`];
    const field = row['Field'];
    const at = parseSalesforceDate(row['CreatedDate']);
    if (typeof id !== 'string' || typeof field !== 'string' || field === 'created' || Number.isNaN(at)) continue;
    const changes = out.get(id) ?? new Map<string, FieldChange>();
    const by = row['CreatedById'];
    changes.set(field, { at, value: row['NewValue'], ...(typeof by === 'string' ? { by } : {}) });
    out.set(id, changes);
  }
  return out;
}
