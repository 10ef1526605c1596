/** The cursors aggregate: per connector, where its last pull stopped. */
import type { Json } from '../../profile/schema.js';

/** Per-connector pull cursors. */
export interface CursorRepository {
  getCursor(connector: string): Promise<Json | null>;
  setCursor(connector: string, cursor: Json): Promise<void>;
}
