/**
 * The published JSON Schema of the export document, generated from `ExportDocument` (the
 * single source of truth). `docs/schemas/export.schema.json` is this output, written by
 * `concord dsr schema`; a test fails when the checked-in file is stale.
 */
import { z } from 'zod';
import { ExportDocument } from './document.js';

export const EXPORT_SCHEMA_PATH = 'docs/schemas/export.schema.json';
export const EXPORT_SCHEMA_ID = 'urn:concord:schema:export:v1';

/** The JSON Schema (draft 2020-12) of the export document. */
export function exportJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ExportDocument, { target: 'draft-2020-12', io: 'output' });
  // zod names the recursive JSON value type `__schema0`; give it a readable name.
  const text = JSON.stringify({ $id: EXPORT_SCHEMA_ID, ...schema })
    .replaceAll('"__schema0"', '"JsonValue"')
    .replaceAll('#/$defs/__schema0', '#/$defs/JsonValue');
  return JSON.parse(text) as Record<string, unknown>;
}

/** The schema as the checked-in file holds it (2-space JSON with a final newline). */
export function exportJsonSchemaText(): string {
  return `${JSON.stringify(exportJsonSchema(), null, 2)}\n`;
}
