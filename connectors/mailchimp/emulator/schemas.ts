/**
 * Request bodies and queries of the member endpoints, as Mailchimp's API reference describes them.
 * https://mailchimp.com/developer/marketing/api/list-members/
 */
import { z } from 'zod';

const Address = z.object({
  addr1: z.string(),
  addr2: z.string().optional(),
  city: z.string(),
  state: z.string(),
  zip: z.string(),
  country: z.string().optional(),
});
const MergeValue = z.union([z.string(), z.number(), Address]);
export const WritableStatus = z.enum(['subscribed', 'unsubscribed', 'cleaned', 'pending', 'transactional']);
/** PATCH accepts only these. */
export const PatchStatus = z.enum(['subscribed', 'unsubscribed', 'cleaned', 'pending']);

const MemberFields = {
  email_type: z.enum(['html', 'text']).optional(),
  merge_fields: z.record(z.string(), MergeValue).optional(),
  interests: z.record(z.string(), z.boolean()).optional(),
  marketing_permissions: z.array(z.object({ marketing_permission_id: z.string(), enabled: z.boolean() })).optional(),
  language: z.string().optional(),
  vip: z.boolean().optional(),
  ip_signup: z.string().optional(),
  timestamp_signup: z.string().optional(),
  ip_opt: z.string().optional(),
  timestamp_opt: z.string().optional(),
  tags: z.array(z.string()).optional(),
  location: z.object({ latitude: z.number(), longitude: z.number() }).partial().optional(),
};

/** POST /lists/{id}/members (AddListMembers1: `email_address` and `status` required). */
export const AddMemberBody = z.object({ email_address: z.string(), status: WritableStatus, ...MemberFields });
/** PUT /lists/{id}/members/{hash}: only `email_address` is required. */
export const PutMemberBody = z.object({
  email_address: z.string(),
  status_if_new: WritableStatus.optional(),
  status: WritableStatus.optional(),
  ...MemberFields,
});
export const PatchMemberBody = z.object({ email_address: z.string().optional(), status: PatchStatus.optional(), ...MemberFields });

/** POST /lists/{id} (AddListMembers: each member's `status` is required). */
export const BatchSubscribeBody = z.object({
  members: z.array(AddMemberBody).max(500, 'You may add at most 500 members per request.'),
  sync_tags: z.boolean().optional(),
  update_existing: z.boolean().optional(),
});
export const BatchSubscribeQuery = z.object({
  skip_merge_validation: z.stringbool().optional(),
  skip_duplicate_check: z.stringbool().optional(),
});

export const MemberTagsBody = z.object({
  tags: z.array(z.object({ name: z.string().min(1).max(100), status: z.enum(['active', 'inactive']) })),
  is_syncing: z.boolean().optional(),
});

export const FieldsQuery = z.object({ fields: z.string().optional(), exclude_fields: z.string().optional() });

export const ListMembersQuery = FieldsQuery.extend({
  count: z.coerce.number().int().min(1).max(1000).default(10),
  offset: z.coerce.number().int().min(0).default(0),
  status: z.enum(['subscribed', 'unsubscribed', 'cleaned', 'pending', 'transactional', 'archived']).optional(),
  since_last_changed: z.string().optional(),
  before_last_changed: z.string().optional(),
  since_timestamp_opt: z.string().optional(),
  before_timestamp_opt: z.string().optional(),
  unsubscribed_since: z.string().optional(),
  sort_field: z.enum(['timestamp_opt', 'timestamp_signup', 'last_changed']).optional(),
  sort_dir: z.enum(['ASC', 'DESC']).optional(),
});
export type ListMembersQuery = z.infer<typeof ListMembersQuery>;

const WebhookEvents = z
  .object({
    subscribe: z.boolean(),
    unsubscribe: z.boolean(),
    profile: z.boolean(),
    cleaned: z.boolean(),
    upemail: z.boolean(),
    campaign: z.boolean(),
  })
  .partial();
const WebhookSources = z.object({ user: z.boolean(), admin: z.boolean(), api: z.boolean() }).partial();
export const CreateWebhookBody = z.object({ url: z.url(), events: WebhookEvents.optional(), sources: WebhookSources.optional() });
