/**
 * `concord check` for a HubSpot instance, with read-only calls: the private app's token is
 * introspected (`POST /oauth/v2/private-apps/get/access-token-info`: its account, app and granted
 * scopes) and every scope the instance needs must be among them; contacts can be read; the
 * configured subscription types and extra properties exist in the account. HubSpot offers no API
 * that lists a private app's webhook subscriptions: that line is neutral.
 * https://developers.hubspot.com/docs/api/private-apps
 */
import { allPassed, cannotCheck, checkFailure, failedAt, passed, type CheckContext } from '../../src/connector/kit/index.js';
import type { ConnectionCheck } from '../../src/connector/define.js';
import { RejectedError } from '../../src/connector/errors.js';
import type { HubSpotApi } from './api.js';
import type { HubSpotConfig } from './config.js';

export const ACCESS_TOKEN_INFO_PATH = '/oauth/v2/private-apps/get/access-token-info';

interface TokenInfo {
  hubId?: number;
  appId?: number;
  scopes?: string[];
}

/** The scopes an instance with this config needs, and what for. */
export function requiredScopes(config: HubSpotConfig): Map<string, string> {
  const needs = new Map<string, string>([
    ['crm.objects.contacts.read', 'pull, read and find contacts'],
    ['crm.objects.contacts.write', 'push and erase contacts'],
  ]);
  if (config.properties.length > 0) needs.set('crm.schemas.contacts.read', 'list the contact properties');
  if (config.subscriptions.length > 0) {
    needs.set('communication_preferences.read', 'list the subscription types');
    needs.set('communication_preferences.statuses.batch.read', 'read subscription statuses');
    needs.set('communication_preferences.statuses.batch.write', 'write subscription statuses');
  }
  return needs;
}

function scopeLines(config: HubSpotConfig, info: TokenInfo): ConnectionCheck[] {
  const granted = new Set(info.scopes ?? []);
  const missing = [...requiredScopes(config)].filter(([scope]) => !granted.has(scope));
  const lines: ConnectionCheck[] = [
    passed(`the access token is accepted (private app ${info.appId ?? '?'} in account ${info.hubId ?? '?'})`),
  ];
  if (config.appId !== undefined && info.appId !== undefined && info.appId !== config.appId) {
    lines.push(
      failedAt(
        ['appId'],
        `appId is ${config.appId} but the token belongs to private app ${info.appId}: echoes of our own writes would not be recognised`,
        `set appId to ${info.appId}`,
      ),
    );
  }
  if (missing.length === 0) lines.push(passed(`the token has the ${requiredScopes(config).size} scopes the instance needs`));
  else {
    lines.push(
      failedAt(
        ['accessToken'],
        `the token lacks ${missing.map(([scope, why]) => `${scope} (to ${why})`).join(', ')}`,
        `in HubSpot, Settings › Integrations › Private apps › the app › Scopes, grant ${missing.map(([s]) => s).join(', ')}, then use the new token`,
      ),
    );
  }
  return lines;
}

async function existenceLines(api: HubSpotApi, config: HubSpotConfig, ctx: CheckContext, signal: AbortSignal): Promise<ConnectionCheck[]> {
  const lines: ConnectionCheck[] = [];
  if (config.subscriptions.length > 0) {
    try {
      // https://developers.hubspot.com/docs/api-reference/communication-preferences-subscriptions-v4/subscription-definitions/get-communication-preferences-v4-definitions
      const { data } = await api.request<{ results?: { id: string | number; name?: string }[] }>(signal, {
        method: 'GET',
        path: '/communication-preferences/v4/definitions',
      });
      const known = new Map((data.results ?? []).map((d) => [Number(d.id), d.name ?? '']));
      const listed = [...known].map(([id, name]) => `${id} (${name})`).join(', ');
      config.subscriptions.forEach((s, i) => {
        if (known.has(s.id)) return;
        lines.push(failedAt(['subscriptions', i, 'id'], `subscription type ${s.id} does not exist in the account`, `use one of ${listed}`));
      });
      if (lines.length === 0) lines.push(passed(`the ${config.subscriptions.length} subscription types exist`));
    } catch (error) {
      lines.push(checkFailure(error, 'the subscription types', ctx));
    }
  }
  if (config.properties.length > 0) {
    try {
      // https://developers.hubspot.com/docs/api-reference/crm-properties-v3/core/get-crm-v3-properties-objectType
      const { data } = await api.request<{ results?: { name: string }[] }>(signal, { method: 'GET', path: '/crm/v3/properties/contacts' });
      const known = new Set((data.results ?? []).map((p) => p.name));
      const before = lines.length;
      config.properties.forEach((name, i) => {
        if (known.has(name)) return;
        lines.push(
          failedAt(
            ['properties', i],
            `contact property ${name} does not exist`,
            'use a property’s internal name (Settings › Properties › the property › internal name), or create it',
          ),
        );
      });
      if (lines.length === before) lines.push(passed(`the ${config.properties.length} extra contact properties exist`));
    } catch (error) {
      lines.push(checkFailure(error, 'the contact properties', ctx));
    }
  }
  return lines;
}

export async function checkHubSpot(api: HubSpotApi, config: HubSpotConfig, signal: AbortSignal): Promise<ConnectionCheck[]> {
  const ctx: CheckContext = {
    system: 'HubSpot',
    credentials: ['accessToken'],
    credentialsFix: 'set accessToken to the private app’s token (Settings › Integrations › Private apps › the app › Auth)',
    address: ['baseUrl'],
  };
  const lines: ConnectionCheck[] = [];
  try {
    const { data } = await api.request<TokenInfo>(signal, {
      method: 'POST',
      path: ACCESS_TOKEN_INFO_PATH,
      body: { tokenKey: config.accessToken },
    });
    lines.push(...scopeLines(config, data));
  } catch (error) {
    // Not a private app's token (e.g. an OAuth token): its scopes cannot be asked this way.
    if (error instanceof RejectedError)
      lines.push(cannotCheck(`the token's scopes cannot be checked here: HubSpot answered ${error.message}`));
    else {
      lines.push(checkFailure(error, 'the access-token-info call', ctx));
      if (!allPassed(lines)) return lines;
    }
  }
  try {
    // https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/basic/get-crm-v3-objects-contacts
    await api.request(signal, { method: 'GET', path: '/crm/v3/objects/contacts', qs: { limit: '1', archived: 'false' } });
    lines.push(passed('contacts can be read'));
  } catch (error) {
    lines.push(checkFailure(error, 'a contacts read', ctx));
    return lines;
  }
  lines.push(...(await existenceLines(api, config, ctx, signal)));
  lines.push(
    cannotCheck(
      'webhook subscriptions cannot be checked from here (HubSpot has no API that lists a private app’s webhooks): in Settings › Integrations › Private apps › the app › Webhooks, the target URL must be the hub’s /webhooks/<id>',
    ),
  );
  return lines;
}
