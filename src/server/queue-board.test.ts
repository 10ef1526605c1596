import { describe, expect, it } from 'vitest';
import { withoutRemoteLinks } from './queue-board.js';

describe("the queue board's page", () => {
  it('loses every <link> to another host (bull-board links Google Fonts) and keeps its own', () => {
    const head = `<link rel="icon" href="static/favicon.svg">
    <link href="https://fonts.googleapis.com/css2?family=IBM+Plex+Sans:wght@400;500;600&display=swap" rel="stylesheet">
<link rel="preconnect" href='//fonts.gstatic.com' crossorigin>
<link href="static/css/main.88d71b4bd7.css" rel="stylesheet"></head>`;
    const out = withoutRemoteLinks(head);
    expect(out).not.toMatch(/fonts\.g/);
    expect(out).toContain('<link rel="icon" href="static/favicon.svg">');
    expect(out).toContain('<link href="static/css/main.88d71b4bd7.css" rel="stylesheet"></head>');
  });
});
