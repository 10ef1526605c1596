/** The data-subject request aggregate: a request and its status in each system. */
import type { Json } from '../../profile/schema.js';

export type DsrKind = 'erase' | 'export' | 'rectify' | 'restrict' | 'unrestrict' | 'object' | 'withdraw_objection';
export type DsrStatus = 'received' | 'in_progress' | 'completed' | 'failed';

export interface DsrSystemStatus {
  connector: string;
  status: 'pending' | 'in_progress' | 'completed' | 'failed' | 'not_applicable';
  attempts: number;
  error: string | null;
  updatedAt: string;
}

export interface DataSubjectRequest {
  id: string;
  kind: DsrKind;
  status: DsrStatus;
  profileId: string | null;
  /** Keyed hashes of the subject's identities (never the identities in clear). */
  identityHashes: string[];
  receivedAt: string;
  dueAt: string;
  extendedTo: string | null;
  subjectToldAt: string | null;
  completedAt: string | null;
  detail: Record<string, Json>;
  systems: DsrSystemStatus[];
}

/** Data-subject requests and their status per system. */
export interface DsrRepository {
  createDsr(request: Omit<DataSubjectRequest, 'systems'> & { systems: string[] }): Promise<DataSubjectRequest>;
  getDsr(id: string): Promise<DataSubjectRequest | null>;
  updateDsr(
    id: string,
    update: Partial<Pick<DataSubjectRequest, 'status' | 'extendedTo' | 'subjectToldAt' | 'completedAt' | 'detail' | 'profileId'>>,
  ): Promise<void>;
  updateDsrSystem(id: string, connector: string, update: Partial<Omit<DsrSystemStatus, 'connector' | 'updatedAt'>>): Promise<void>;
  /** Oldest first; `overdueAt`: open and past the (extended) deadline at that instant; `profileId`, `kind`: only those. */
  listDsr(filter?: { status?: DsrStatus; overdueAt?: string; profileId?: string; kind?: DsrKind }): Promise<DataSubjectRequest[]>;
}
