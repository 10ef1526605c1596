/**
 * Rules that span several parts of the file: references into the catalog, reserved ids, the
 * development-mode guards (loopback) and production's https public URL. They read the data defensively, so they report even when
 * other parts of the file fail the schema (all errors are reported together).
 */
import { formatPath } from './errors.js';
import type { ConfigPath } from './locate.js';
import { dict, keysOf, list } from './check-kit.js';
import type { CheckFinding, Dict } from './check-kit.js';
import { localizationFindings } from './localization-checks.js';
import { isLoopbackHost, isLoopbackUrl } from './loopback.js';
import { HUB_SOURCES } from './schema.js';

export type { CheckFinding } from './check-kit.js';

/** What the loader learned about the secrets before the cross-part rules run. */
export interface CrossCheckContext {
  /** Where a secret published with Concord for development is configured (any mode). */
  publishedSecrets: readonly ConfigPath[];
}

/** Cross-part rules over the (possibly invalid) resolved data. */
export function crossChecks(data: unknown, context: CrossCheckContext = { publishedSecrets: [] }): CheckFinding[] {
  const findings: CheckFinding[] = [];
  const root = dict(data);
  const hub = dict(root['hub']);
  const catalog = dict(root['catalog']);
  const purposes = dict(catalog['purposes']);
  const channels = dict(catalog['channels']);

  for (const [purposeId, purpose] of Object.entries(purposes)) {
    list(dict(purpose)['channels']).forEach((channel, i) => {
      if (typeof channel === 'string' && !(channel in channels)) {
        findings.push({
          code: 'dangling_reference',
          path: ['catalog', 'purposes', purposeId, 'channels', i],
          at: 'value',
          message: `channel "${channel}" is not in catalog.channels (defined: ${keysOf(channels)})`,
        });
      }
    });
  }

  for (const [instanceId, instance] of Object.entries(dict(root['connectors']))) {
    const base = ['connectors', instanceId];
    if ((HUB_SOURCES as readonly string[]).includes(instanceId)) {
      findings.push({
        code: 'reserved_id',
        path: base,
        at: 'key',
        message: `connector id "${instanceId}" is reserved for the hub itself (reserved: ${HUB_SOURCES.join(', ')})`,
      });
    }
    const connector = dict(instance);
    list(connector['consentAuthority']).forEach((purposeId, i) => {
      if (typeof purposeId === 'string' && !(purposeId in purposes)) {
        findings.push({
          code: 'dangling_reference',
          path: [...base, 'consentAuthority', i],
          at: 'value',
          message: `purpose "${purposeId}" is not in catalog.purposes (defined: ${keysOf(purposes)})`,
        });
      }
    });
    list(connector['mappings']).forEach((entry, i) => {
      findings.push(...mappingReferenceFindings(entry, catalog, (key) => [...base, 'mappings', i, key]));
    });
  }

  const connectorIds = dict(root['connectors']);
  list(dict(hub['privacy'])['alwaysErase']).forEach((instanceId, i) => {
    if (typeof instanceId === 'string' && !(instanceId in connectorIds)) {
      findings.push({
        code: 'dangling_reference',
        path: ['hub', 'privacy', 'alwaysErase', i],
        at: 'value',
        message: `connector "${instanceId}" is not in connectors (defined: ${keysOf(connectorIds)})`,
      });
    }
  });

  findings.push(...localizationFindings(root));
  findings.push(...modeChecks(hub, context));
  return findings;
}

/**
 * The catalog references of one mapping entry: its consent's purpose and channel (the purpose
 * must apply to the channel) and its topic. `pathOf` says where each is written: under
 * `mappings[i]` for a YAML entry, at the key a derived entry comes from (`derivedMappings`).
 */
export function mappingReferenceFindings(
  entry: unknown,
  catalog: unknown,
  pathOf: (key: 'consent' | 'topic') => ConfigPath,
): CheckFinding[] {
  const findings: CheckFinding[] = [];
  const mapping = dict(entry);
  const purposes = dict(dict(catalog)['purposes']);
  const channels = dict(dict(catalog)['channels']);
  const topics = dict(dict(catalog)['topics']);
  const consent = mapping['consent'];
  if (typeof consent === 'string') {
    const [purposeId, channelId, ...extra] = consent.split('.');
    if (purposeId !== undefined && channelId !== undefined && extra.length === 0) {
      const path = pathOf('consent');
      const purpose = purposes[purposeId];
      if (purpose === undefined) {
        findings.push({
          code: 'dangling_reference',
          path,
          at: 'value',
          message: `purpose "${purposeId}" is not in catalog.purposes (defined: ${keysOf(purposes)})`,
        });
      } else if (!(channelId in channels)) {
        findings.push({
          code: 'dangling_reference',
          path,
          at: 'value',
          message: `channel "${channelId}" is not in catalog.channels (defined: ${keysOf(channels)})`,
        });
      } else if (!list(dict(purpose)['channels']).includes(channelId)) {
        findings.push({
          code: 'dangling_reference',
          path,
          at: 'value',
          message: `purpose "${purposeId}" does not apply to channel "${channelId}" (its channels: ${list(dict(purpose)['channels']).join(', ')})`,
        });
      }
    }
  }
  const topic = mapping['topic'];
  if (typeof topic === 'string' && !(topic in topics)) {
    findings.push({
      code: 'dangling_reference',
      path: pathOf('topic'),
      at: 'value',
      message: `topic "${topic}" is not in catalog.topics (defined: ${keysOf(topics)})`,
    });
  }
  return findings;
}

/**
 * Development mode accepts published secrets, so it stays on loopback (its public URL and its
 * listen address; the latter also whenever a published secret is configured). Production mode
 * needs an https public URL.
 */
function modeChecks(hub: Dict, context: CrossCheckContext): CheckFinding[] {
  const findings: CheckFinding[] = [];
  const mode = hub['mode'];
  const publicUrl = hub['publicUrl'];
  const host = dict(hub['listen'])['host'] ?? '127.0.0.1';
  if (typeof host === 'string' && !isLoopbackHost(host) && (mode === 'development' || context.publishedSecrets.length > 0)) {
    const why =
      mode === 'development'
        ? 'hub.mode is development, which accepts published secrets'
        : `a published development secret is configured (${context.publishedSecrets.map(formatPath).join(', ')})`;
    findings.push({
      code: 'development_listen_host',
      path: ['hub', 'listen', 'host'],
      at: 'value',
      message: `${why}, so the hub listens only on loopback (127.0.0.1, ::1, localhost); ${
        mode === 'development' ? `set hub.mode: production to listen on ${host}` : 'set every secret to a value of your own'
      }`,
    });
  }
  if (
    (mode === undefined || mode === 'production') &&
    typeof publicUrl === 'string' &&
    URL.canParse(publicUrl) &&
    new URL(publicUrl).protocol === 'http:'
  ) {
    findings.push({
      code: 'production_public_url',
      path: ['hub', 'publicUrl'],
      at: 'value',
      message:
        'hub.mode is production, so publicUrl must be an https:// URL (the preference center sets Secure cookies; put a TLS-terminating proxy in front of the hub)',
    });
  }
  if ((mode === undefined || mode === 'production') && dict(hub['mail'])['transport'] === 'catcher') {
    findings.push({
      code: 'production_mail_catcher',
      path: ['hub', 'mail', 'transport'],
      at: 'value',
      message:
        'hub.mode is production, so mail must go through a real SMTP server: set hub.mail.transport: smtp with smtp.url or smtp.host',
    });
  }
  if (mode === 'development' && typeof publicUrl === 'string' && isLoopbackUrl(publicUrl) === false) {
    findings.push({
      code: 'development_public_url',
      path: ['hub', 'publicUrl'],
      at: 'value',
      message:
        'hub.mode is development, which allows published default secrets, so publicUrl must be a loopback address (localhost, 127.0.0.1, [::1]); set hub.mode: production for a reachable hub',
    });
  }
  return findings;
}
