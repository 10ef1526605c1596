/** The hub's webhook address of a connector instance, as `setup` and `check` are told it. */

/** The public URL the system can reach, then `/webhooks/<id>`. */
export function webhookUrlOf(publicUrl: string, id: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/webhooks/${encodeURIComponent(id)}`;
}
