import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ScreenLine } from '../../src/client/cell-render.js';
import { drawStatusBar } from '../../src/client/status-bar.js';
import { loadTheme } from '../../src/client/theme.js';
import type { LayoutState } from '../../src/protocol/messages.js';

test("the status bar shows the session's fields once each: a value naming its field is not named again", async () => {
  const line: ScreenLine = Array.from({ length: 120 }, () => [0, ' '] as [number, string]);
  const layout = {
    ...{ session: 's', kind: 'tiled', zoomed: false, focus: null, cols: 120, rows: 30, panes: [] },
    status: { tasks: '0 queued · 1 done', cost: 'cost unknown (at least $0.01)' },
  } as LayoutState;
  drawStatusBar(line, 120, {
    ...{ session: 's', layout, theme: await loadTheme('default') },
    ...{ prefixName: 'C-b', prefixPending: false, readOnly: false },
  });
  const text = line.map(([, ch]) => ch).join('');
  assert.match(text, /tasks 0 queued · 1 done \| cost unknown \(at least \$0\.01\) \|/);
  assert.doesNotMatch(text, /cost cost/);
});
