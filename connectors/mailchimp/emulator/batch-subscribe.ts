/**
 * Batch subscribe, `POST /lists/{list_id}`: up to 500 members, answered synchronously. A member
 * the rules refuse (compliance state, forgotten, churn, invalid) is an `ERROR_GENERIC` entry of
 * `errors`, an existing one without `update_existing` an `ERROR_CONTACT_EXISTS`; the call succeeds.
 * https://mailchimp.com/developer/marketing/api/lists/batch-subscribe-or-unsubscribe/
 */
import type { FastifyInstance } from 'fastify';
import { MailchimpError, parseInput } from './errors.js';
import { BatchSubscribeBody, BatchSubscribeQuery } from './schemas.js';
import { memberJson } from './serialize.js';
import { emailHash, type MailchimpState, type StoredMember } from './state.js';

interface BatchError {
  email_address: string;
  error: string;
  error_code: 'ERROR_CONTACT_EXISTS' | 'ERROR_GENERIC';
  field: string;
  field_message: string;
}

export function registerBatchSubscribe(app: FastifyInstance, state: MailchimpState): void {
  app.post<{ Params: { list_id: string } }>('/lists/:list_id', async (req) => {
    const list = state.list(req.params.list_id);
    const body = parseInput(BatchSubscribeBody, req.body);
    const query = parseInput(BatchSubscribeQuery, req.query);
    const created: StoredMember[] = [];
    const updated: StoredMember[] = [];
    const errors: BatchError[] = [];
    const seen = new Set<string>();
    const opts = { source: 'api', skipMergeValidation: query.skip_merge_validation ?? false } as const;
    for (const input of body.members) {
      const hash = emailHash(input.email_address);
      if (query.skip_duplicate_check && seen.has(hash)) continue;
      seen.add(hash);
      try {
        const existing = state.find(list, input.email_address);
        if (!existing) {
          created.push(state.create(list, input, input.status, opts));
        } else if (!body.update_existing) {
          errors.push({
            email_address: input.email_address,
            error: `${input.email_address} is already a list member, do you want to update? please provide update_existing:true in the request body`,
            error_code: 'ERROR_CONTACT_EXISTS',
            field: '',
            field_message: '',
          });
        } else {
          // Tags in the body apply on create only, unless `sync_tags` replaces them all.
          const member = state.update(list, existing, input, input.status, opts);
          if (body.sync_tags) state.syncTags(list, member, input.tags ?? []);
          updated.push(member);
        }
      } catch (e) {
        if (!(e instanceof MailchimpError)) throw e;
        const field = e.errors?.[0];
        errors.push({
          email_address: input.email_address,
          error: e.detail,
          error_code: 'ERROR_GENERIC',
          field: field?.field ?? '',
          field_message: field?.message ?? '',
        });
      }
    }
    return {
      new_members: created.map((m) => memberJson(list, m)),
      updated_members: updated.map((m) => memberJson(list, m)),
      errors,
      total_created: created.length,
      total_updated: updated.length,
      error_count: errors.length,
      _links: [{ rel: 'self', href: `/3.0/lists/${list.seed.id}`, method: 'GET' }],
    };
  });
}
