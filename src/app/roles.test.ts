import { describe, expect, it } from 'vitest';
import { AtomicRole, formatRoles, parseRoles, ROLES, runsEngineWorkers, toEngineRoles, toRoleSet } from './roles.js';
import type { RoleSet } from './roles.js';

function roles(text: string): string[] {
  const parsed = parseRoles(text);
  if (!parsed.ok) throw new Error(`expected ${JSON.stringify(text)} to parse: ${parsed.message}`);
  return [...parsed.roles];
}

function failure(text: string): string {
  const parsed = parseRoles(text);
  if (parsed.ok) throw new Error(`expected ${JSON.stringify(text)} to be refused, got ${[...parsed.roles].join(',')}`);
  return parsed.message;
}

const VALID = 'valid roles: api, ingest, relay, push, pull, privacy, worker (= ingest,relay,push,pull,privacy), all (= every role)';

describe('parseRoles', () => {
  it('reads each atomic role on its own', () => {
    for (const role of AtomicRole.options) expect(roles(role)).toEqual([role]);
  });

  it('expands the aliases: worker is every role but api, all is every role', () => {
    expect(roles('worker')).toEqual(['ingest', 'relay', 'push', 'pull', 'privacy']);
    expect(roles('all')).toEqual(['api', 'ingest', 'relay', 'push', 'pull', 'privacy']);
  });

  it('reads comma-separated lists, in the canonical order whatever the order written', () => {
    expect(roles('api,push')).toEqual(['api', 'push']);
    expect(roles('relay,ingest')).toEqual(['ingest', 'relay']);
    expect(roles('pull,api,privacy')).toEqual(['api', 'pull', 'privacy']);
    expect(roles('api,worker')).toEqual(['api', 'ingest', 'relay', 'push', 'pull', 'privacy']);
  });

  it('tolerates whitespace, repeats, overlapping aliases and empty list entries', () => {
    expect(roles('  api ,\tpush  ')).toEqual(['api', 'push']);
    expect(roles('push,push, push')).toEqual(['push']);
    expect(roles('worker,ingest,all')).toEqual(['api', 'ingest', 'relay', 'push', 'pull', 'privacy']);
    expect(roles('api,,push,')).toEqual(['api', 'push']);
  });

  it('refuses an unknown role with a message naming it and every valid role', () => {
    expect(failure('bogus')).toBe(`unknown role "bogus"; ${VALID}`);
    expect(failure('api,bogus')).toBe(`unknown role "bogus"; ${VALID}`);
    expect(failure('api push')).toBe(`unknown role "api push"; ${VALID}`);
  });

  it('suggests the closest role for a misspelt one, and is case-sensitive', () => {
    expect(failure('wroker')).toBe(`unknown role "wroker" (did you mean "worker"?); ${VALID}`);
    expect(failure('API')).toBe(`unknown role "API" (did you mean "api"?); ${VALID}`);
  });

  it('refuses an empty value or one with only commas and spaces', () => {
    expect(failure('')).toBe(`no role given; ${VALID}`);
    expect(failure('  ')).toBe(`no role given; ${VALID}`);
    expect(failure(' , ,')).toBe(`no role given; ${VALID}`);
  });

  it('accepts every name it lists as valid', () => {
    for (const role of ROLES) expect(parseRoles(role).ok).toBe(true);
  });
});

describe('toRoleSet', () => {
  it('expands a single role name and passes a parsed set through', () => {
    expect([...toRoleSet('all')]).toEqual(['api', 'ingest', 'relay', 'push', 'pull', 'privacy']);
    expect([...toRoleSet('api')]).toEqual(['api']);
    const parsed = parseRoles('api,push');
    if (!parsed.ok) throw new Error(parsed.message);
    expect(toRoleSet(parsed.roles)).toBe(parsed.roles);
  });
});

describe('toEngineRoles', () => {
  const set = (text: string): RoleSet => {
    const parsed = parseRoles(text);
    if (!parsed.ok) throw new Error(parsed.message);
    return parsed.roles;
  };

  it('maps the engine roles of the set and nothing else', () => {
    expect(toEngineRoles(set('api,push'))).toEqual({ ingest: false, relay: false, push: true, pull: false });
    expect(toEngineRoles(set('ingest,relay'))).toEqual({ ingest: true, relay: true, push: false, pull: false });
    expect(toEngineRoles(set('worker'))).toEqual({ ingest: true, relay: true, push: true, pull: true });
    expect(toEngineRoles(set('all'))).toEqual({ ingest: true, relay: true, push: true, pull: true });
  });

  it('says whether a process runs any engine worker at all (api and privacy do not)', () => {
    expect(runsEngineWorkers(set('api'))).toBe(false);
    expect(runsEngineWorkers(set('privacy'))).toBe(false);
    expect(runsEngineWorkers(set('api,privacy'))).toBe(false);
    expect(runsEngineWorkers(set('api,pull'))).toBe(true);
  });
});

describe('formatRoles', () => {
  it('names an alias when the set is exactly one, otherwise lists the roles', () => {
    expect(formatRoles(toRoleSet('all'))).toBe('all');
    expect(formatRoles(toRoleSet('worker'))).toBe('worker');
    const parsed = parseRoles('push , api');
    if (!parsed.ok) throw new Error(parsed.message);
    expect(formatRoles(parsed.roles)).toBe('api,push');
  });
});
