import { describe, expect, it } from 'vitest';
import { parseTemplate, resolveTemplate } from './env.js';
import type { TemplatePart } from './env.js';

function parts(text: string): TemplatePart[] {
  const parsed = parseTemplate(text);
  if (!parsed.ok) throw new Error(`expected ${text} to parse: ${parsed.message}`);
  return parsed.parts;
}

describe('parseTemplate', () => {
  it('reads a lone reference', () => {
    expect(parts('${env:REDIS_URL}')).toEqual([{ kind: 'env', name: 'REDIS_URL' }]);
  });

  it('reads a default, including braces and colons inside it', () => {
    expect(parts('${env:KEY_PREFIX:-{concord}}')).toEqual([{ kind: 'env', name: 'KEY_PREFIX', fallback: '{concord}' }]);
    expect(parts('${env:REDIS_URL:-redis://127.0.0.1:6379}')).toEqual([
      { kind: 'env', name: 'REDIS_URL', fallback: 'redis://127.0.0.1:6379' },
    ]);
  });

  it('reads references inside text', () => {
    expect(parts('https://${env:HOST}:${env:PORT:-8080}/hooks')).toEqual([
      { kind: 'text', text: 'https://' },
      { kind: 'env', name: 'HOST' },
      { kind: 'text', text: ':' },
      { kind: 'env', name: 'PORT', fallback: '8080' },
      { kind: 'text', text: '/hooks' },
    ]);
  });

  it('treats $${ as a literal ${', () => {
    expect(parts('price: $${total}')).toEqual([{ kind: 'text', text: 'price: ${total}' }]);
  });

  it.each([
    ['${env:UNCLOSED', 'unclosed'],
    ['${HOME}', 'unsupported reference'],
    ['${file:/etc/passwd}', 'unsupported reference'],
    ['${env:}', 'invalid environment variable name'],
    ['${env:1ABC}', 'invalid environment variable name'],
    ['${env:A-B}', 'invalid environment variable name'],
  ])('refuses %s', (text, message) => {
    const parsed = parseTemplate(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toContain(message);
  });
});

describe('resolveTemplate', () => {
  it('uses the variable when it is set', () => {
    const resolved = resolveTemplate(parts('${env:REDIS_URL:-redis://127.0.0.1:6379}'), { REDIS_URL: 'redis://cache:6379' });
    expect(resolved).toMatchObject({ value: 'redis://cache:6379', missing: [], whole: true });
    expect(resolved.segments).toEqual([{ text: 'redis://cache:6379', origin: 'env', name: 'REDIS_URL' }]);
  });

  it('falls back to the default when the variable is unset or empty', () => {
    for (const env of [{}, { REDIS_URL: '' }]) {
      const resolved = resolveTemplate(parts('${env:REDIS_URL:-redis://127.0.0.1:6379}'), env);
      expect(resolved.value).toBe('redis://127.0.0.1:6379');
      expect(resolved.segments[0]?.origin).toBe('default');
    }
  });

  it('allows an empty default', () => {
    expect(resolveTemplate(parts('a${env:X:-}b'), {}).value).toBe('ab');
  });

  it('lists every missing variable that has no default', () => {
    const resolved = resolveTemplate(parts('${env:A}-${env:B:-b}-${env:C}'), { A: '' });
    expect(resolved.missing).toEqual(['A', 'C']);
  });

  it('marks mixed text as not whole', () => {
    expect(resolveTemplate(parts('x${env:A}'), { A: 'a' })).toMatchObject({ value: 'xa', whole: false });
  });
});
