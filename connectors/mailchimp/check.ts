/**
 * `concord check` for a Mailchimp instance, with read-only calls: the API key is accepted
 * (`GET /ping`), the audience exists, every merge field the mapping writes exists in it (and none
 * it requires is left unwritten), the configured interests exist, and the audience's webhook
 * points at the hub with the events and sources the connector needs (`GET /lists/{id}/webhooks`).
 * https://mailchimp.com/developer/marketing/api/
 */
import { cannotCheck, checkFailure, failedAt, passed, writtenExternals, type CheckContext } from '../../src/connector/kit/index.js';
import type { ConnectionCheck } from '../../src/connector/define.js';
import type { MailchimpApi } from './api.js';
import type { MailchimpConfig } from './config.js';
import { mailchimpDefaultMappings, mergeTagOf } from './mapping.js';
import { listedWebhookFits, maskedUrl, type ListWebhook } from './setup.js';

interface MergeField {
  tag: string;
  required?: boolean;
}

async function mergeFieldLines(
  api: MailchimpApi,
  list: string,
  written: readonly string[],
  signal: AbortSignal,
): Promise<ConnectionCheck[]> {
  const tags = [...new Set(written.flatMap((f) => mergeTagOf(f) ?? []))];
  // https://mailchimp.com/developer/marketing/api/list-merges/list-merge-fields/
  const { data } = await api.request<{ merge_fields?: MergeField[] }>('GET', `${list}/merge-fields`, { params: { count: 1000 }, signal });
  const fields = data?.merge_fields ?? [];
  const known = new Set(fields.map((f) => f.tag));
  const lines = tags
    .filter((tag) => !known.has(tag))
    .map((tag) =>
      failedAt(
        ['mappings'],
        `the mapping writes merge field ${tag}, which the audience does not have`,
        `add the merge field ${tag} to the audience (Audience › Settings › Audience fields and *|MERGE|* tags), or map another one`,
      ),
    );
  for (const f of fields.filter((m) => m.required === true && !tags.includes(m.tag))) {
    lines.push(
      failedAt(
        ['mappings'],
        `the audience requires merge field ${f.tag}, which the mapping does not write: new members would be refused`,
        `map an attribute to merge:${f.tag}, or make the field optional in the audience`,
      ),
    );
  }
  return lines.length > 0 ? lines : [passed(`the ${tags.length} merge fields the mapping writes exist`)];
}

async function interestLines(api: MailchimpApi, config: MailchimpConfig, list: string, signal: AbortSignal): Promise<ConnectionCheck[]> {
  if (config.interests.length === 0) return [];
  // https://mailchimp.com/developer/marketing/api/interest-categories/list-interest-categories-in-list/
  const categories = await api.request<{ categories?: { id: string }[] }>('GET', `${list}/interest-categories`, {
    params: { count: 1000 },
    signal,
  });
  const known = new Set<string>();
  for (const category of categories.data?.categories ?? []) {
    const interests = await api.request<{ interests?: { id: string }[] }>(
      'GET',
      `${list}/interest-categories/${encodeURIComponent(category.id)}/interests`,
      { params: { count: 1000 }, signal },
    );
    for (const i of interests.data?.interests ?? []) known.add(i.id);
  }
  const lines = config.interests.flatMap((interest, i) =>
    known.has(interest.id)
      ? []
      : [
          failedAt(
            ['interests', i, 'id'],
            `interest ${interest.id} does not exist in the audience`,
            'use an id from GET /lists/{list_id}/interest-categories/{id}/interests',
          ),
        ],
  );
  return lines.length > 0 ? lines : [passed(`the ${config.interests.length} interests exist`)];
}

async function webhookLines(
  api: MailchimpApi,
  config: MailchimpConfig,
  list: string,
  hub: { webhookUrl: string } | undefined,
  signal: AbortSignal,
): Promise<ConnectionCheck[]> {
  if (hub === undefined) return [cannotCheck('the audience’s webhook is not checked: the hub’s public URL is not known here')];
  const url = `${hub.webhookUrl}/${encodeURIComponent(config.webhookSecret)}`;
  // https://mailchimp.com/developer/marketing/api/list-webhooks/list-webhooks/
  const { data } = await api.request<{ webhooks?: ListWebhook[] }>('GET', `${list}/webhooks`, { signal });
  const hook = (data?.webhooks ?? []).find((w) => w.url === url);
  const fix =
    'run concord connector setup <id> (it registers the webhook with the right events and sources), with hub.publicUrl set to the address Mailchimp reaches';
  if (hook === undefined)
    return [failedAt([], `the audience has no webhook at ${maskedUrl(url)}: changes made in Mailchimp reach the hub only by pulls`, fix)];
  if (!listedWebhookFits(hook))
    return [
      failedAt(
        [],
        `the audience’s webhook at ${maskedUrl(url)} has other events or sources than the connector needs (api must be off)`,
        fix,
      ),
    ];
  return [passed(`the audience’s webhook points at ${maskedUrl(url)} with the events and sources needed`)];
}

export async function checkMailchimp(
  api: MailchimpApi,
  config: MailchimpConfig,
  fieldTargets: Readonly<Record<string, string>> | undefined,
  hub: { webhookUrl: string } | undefined,
  signal: AbortSignal,
): Promise<ConnectionCheck[]> {
  const ctx: CheckContext = {
    system: 'Mailchimp',
    credentials: ['apiKey'],
    credentialsFix: 'set apiKey to an active Marketing API key of the account (Profile › Extras › API keys), ending in -<dc>',
    address: ['baseUrl'],
  };
  try {
    // https://mailchimp.com/developer/marketing/api/ping/ping/
    await api.request('GET', '/ping', { signal });
  } catch (error) {
    return [checkFailure(error, 'GET /ping', ctx)];
  }
  const lines: ConnectionCheck[] = [passed('the API key is accepted')];
  const list = `/lists/${encodeURIComponent(config.listId)}`;
  try {
    // https://mailchimp.com/developer/marketing/api/lists/get-list-info/
    const { data } = await api.request<{ name?: string }>('GET', list, { params: { fields: 'id,name' }, signal, accept: [404] });
    if (data?.name === undefined) {
      lines.push(
        failedAt(
          ['listId'],
          `audience ${config.listId} does not exist in the account`,
          'set listId to the audience id (Audience › Settings › Audience name and defaults › Audience ID)',
        ),
      );
      return lines;
    }
    lines.push(passed(`audience ${config.listId} (${data.name}) exists`));
  } catch (error) {
    lines.push(checkFailure(error, 'the audience', ctx));
    return lines;
  }
  const steps: [string, () => Promise<ConnectionCheck[]>][] = [
    ['the merge fields', () => mergeFieldLines(api, list, writtenExternals(fieldTargets, mailchimpDefaultMappings), signal)],
    ['the interests', () => interestLines(api, config, list, signal)],
    ['the webhooks', () => webhookLines(api, config, list, hub, signal)],
  ];
  for (const [what, step] of steps) {
    try {
      lines.push(...(await step()));
    } catch (error) {
      lines.push(checkFailure(error, what, ctx));
    }
  }
  return lines;
}
