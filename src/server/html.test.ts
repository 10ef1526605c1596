import { describe, expect, it } from 'vitest';
import { html, raw } from './html.js';

describe('html', () => {
  it('escapes interpolated text and attributes but not nested markup', () => {
    const name = '<script>alert("x")</script> & \'co\'';
    const out = html`<p title="${name}">${name}${html`<b>${'<i>'}</b>`}${raw('<br>')}${[1, 2]}${null}${false}</p>`;
    expect(out.text).toBe(
      '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;<b>&lt;i&gt;</b><br>12</p>',
    );
  });
});
