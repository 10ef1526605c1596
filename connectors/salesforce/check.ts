/**
 * `concord check` for a Salesforce instance, with read-only calls: the connected app's client
 * credentials get a token; the person object (Contact or Lead) and the Individual are described,
 * and every field the instance reads must be visible to the integration user and every field its
 * mapping writes updateable (field-level security); the external id field is one; the configured
 * DataUsePurposes exist; Outbound Messages come from the org the token belongs to. Whether the
 * Outbound Message itself points at the hub cannot be asked through the REST API: a neutral line.
 */
import { cannotCheck, checkFailure, failedAt, passed, writtenExternals, type CheckContext } from '../../src/connector/kit/index.js';
import type { ConnectionCheck } from '../../src/connector/define.js';
import type { SalesforceApi } from './api.js';
import type { SalesforceConfig } from './config.js';
import { CONSENT_PREFIX, INDIVIDUAL_PREFIX, salesforceDefaultMappings } from './mapping.js';
import { inList, personFields, queryAll } from './read.js';

interface DescribedField {
  name: string;
  updateable: boolean;
  createable: boolean;
  externalId: boolean;
}

const FLS_FIX = 'in Setup, give the integration user’s profile or permission set';

/** Lines for one described object: `reads` must be visible, `writes` updateable. */
function fieldLines(
  object: string,
  fields: readonly DescribedField[],
  reads: readonly { name: string; path: readonly (string | number)[] }[],
  writes: readonly string[],
): ConnectionCheck[] {
  const byName = new Map(fields.map((f) => [f.name, f]));
  const lines: ConnectionCheck[] = [];
  for (const { name, path } of reads) {
    if (byName.has(name)) continue;
    lines.push(
      failedAt(
        path,
        `${object}.${name} is not visible to the integration user`,
        `${FLS_FIX} Read access to ${object}.${name} (or create the field)`,
      ),
    );
  }
  for (const name of writes) {
    const field = byName.get(name);
    if (field === undefined || field.updateable) continue;
    lines.push(
      failedAt(
        ['mappings'],
        `${object}.${name} is written by the mapping but is not updateable by the integration user`,
        `${FLS_FIX} Edit access to ${object}.${name}, or stop mapping it outbound`,
      ),
    );
  }
  return lines;
}

export async function checkSalesforce(
  api: SalesforceApi,
  config: SalesforceConfig,
  fieldTargets: Readonly<Record<string, string>> | undefined,
  signal: AbortSignal,
): Promise<ConnectionCheck[]> {
  const ctx: CheckContext = {
    system: 'Salesforce',
    credentials: ['clientSecret'],
    credentialsFix:
      'set clientId and clientSecret to the connected app’s consumer key and secret (client credentials flow enabled, with a Run As user), and loginUrl to the org’s My Domain URL',
    address: ['loginUrl'],
    rejectedPath: ['object'],
  };
  const lines: ConnectionCheck[] = [];
  const written = writtenExternals(fieldTargets, salesforceDefaultMappings);
  const personWrites = written.filter((f) => !f.includes(':') && !f.startsWith(INDIVIDUAL_PREFIX));
  const individualWrites = written.filter((f) => f.startsWith(INDIVIDUAL_PREFIX)).map((f) => f.slice(INDIVIDUAL_PREFIX.length));
  let person: { fields: DescribedField[] };
  try {
    // https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_describe.htm
    person = await api.call(signal, (conn) => conn.sobject(config.object).describe());
  } catch (error) {
    return [checkFailure(error, `the describe of ${config.object}`, ctx)];
  }
  lines.push(passed(`the client credentials are accepted and ${config.object} can be described`));
  const reads = personFields(config).map((name) => {
    const i = config.fields.indexOf(name);
    const path = name === config.externalIdField ? ['externalIdField'] : i >= 0 ? ['fields', i] : ['object'];
    return { name, path };
  });
  const personLines = fieldLines(config.object, person.fields, reads, personWrites);
  const external = person.fields.find((f) => f.name === config.externalIdField);
  if (external !== undefined && !(external.externalId && external.createable)) {
    personLines.push(
      failedAt(
        ['externalIdField'],
        `${config.object}.${config.externalIdField} is not an external id field the integration user can set`,
        `mark ${config.externalIdField} External ID and Unique, and ${FLS_FIX} Edit access to it`,
      ),
    );
  }
  lines.push(
    ...(personLines.length > 0
      ? personLines
      : [passed(`the ${reads.length} fields read and ${personWrites.length} written on ${config.object} are accessible`)]),
  );
  if (individualWrites.length > 0) {
    try {
      const individual = await api.call(signal, (conn) => conn.sobject('Individual').describe());
      const found = fieldLines(
        'Individual',
        individual.fields,
        individualWrites.map((name) => ({ name, path: ['mappings'] })),
        individualWrites,
      );
      lines.push(
        ...(found.length > 0 ? found : [passed(`the ${individualWrites.length} Individual fields the mapping writes are accessible`)]),
      );
    } catch (error) {
      lines.push(
        checkFailure(error, 'the describe of Individual', {
          ...ctx,
          rejectedPath: ['mappings'],
          rejectedFix: `${FLS_FIX} access to Individual (turn on data protection and privacy in Setup)`,
        }),
      );
    }
  }
  lines.push(...(await purposeLines(api, config, written, ctx, signal)));
  lines.push(...outboundLines(api, config));
  return lines;
}

async function purposeLines(
  api: SalesforceApi,
  config: SalesforceConfig,
  written: readonly string[],
  ctx: CheckContext,
  signal: AbortSignal,
): Promise<ConnectionCheck[]> {
  const names = [...new Set(Object.values(config.dataUsePurposes))];
  if (names.length === 0 && !written.some((f) => f.startsWith(CONSENT_PREFIX))) return [];
  try {
    const found = await api.call(signal, (conn) =>
      queryAll(conn, `SELECT Id, Name FROM DataUsePurpose WHERE Name IN ${inList(names.length > 0 ? names : [''])}`),
    );
    const known = new Set(found.map((r) => r['Name']));
    const lines = Object.entries(config.dataUsePurposes)
      .filter(([, name]) => !known.has(name))
      .map(([purpose, name]) =>
        failedAt(
          ['dataUsePurposes', purpose],
          `no DataUsePurpose is named ${name}`,
          `create the DataUsePurpose ${name} in Salesforce, or name an existing one`,
        ),
      );
    return lines.length > 0 ? lines : [passed(`the ${names.length} DataUsePurposes exist`)];
  } catch (error) {
    return [
      checkFailure(error, 'the DataUsePurpose query', {
        ...ctx,
        rejectedPath: ['dataUsePurposes'],
        rejectedFix: `${FLS_FIX} Read access to DataUsePurpose`,
      }),
    ];
  }
}

function outboundLines(api: SalesforceApi, config: SalesforceConfig): ConnectionCheck[] {
  if (config.organizationId === undefined)
    return [cannotCheck('Outbound Messages are off (no organizationId): changes are seen by pulls only')];
  const lines: ConnectionCheck[] = [];
  const org = api.organizationId;
  if (org !== undefined && org.slice(0, 15) !== config.organizationId.slice(0, 15)) {
    lines.push(
      failedAt(
        ['organizationId'],
        `organizationId is ${config.organizationId} but the credentials belong to org ${org}: every Outbound Message would be refused`,
        `set organizationId to ${org}`,
      ),
    );
  } else lines.push(passed('Outbound Messages are taken from the org the credentials belong to'));
  lines.push(
    cannotCheck(
      'the Outbound Message’s endpoint cannot be checked from here (the REST API does not list workflow actions): in Setup › Outbound Messages its Endpoint URL must be the hub’s /webhooks/<id>/<outboundMessageToken>',
    ),
  );
  return lines;
}
