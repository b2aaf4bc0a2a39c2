// The shared ring of the file writer: spans never overlap live ones, wrap to the start when the
// end is too short, and the bytes skipped there are given back with the span that skipped them.

import { describe, expect, it } from 'vitest';
import { ContentRing } from '../../src/storage/content-ring.js';

describe('ContentRing', () => {
  it('hands out spans in order, wraps when the end is too short, and counts the skipped bytes', () => {
    const ring = new ContentRing(100);
    expect(ring.take(60)).toEqual({ offset: 0, cost: 60 });
    expect(ring.take(30)).toEqual({ offset: 60, cost: 30 });
    expect(ring.take(20)).toBeUndefined(); // 10 left at the end, nothing free at the start
    ring.free(60);
    expect(ring.take(20)).toEqual({ offset: 0, cost: 30 }); // skips 90..100
    expect(ring.take(41)).toBeUndefined(); // 20..90 holds 40 bytes: 30 live at 60..90
    expect(ring.take(40)).toEqual({ offset: 20, cost: 40 });
  });

  it('wraps when the last span ended exactly at the end', () => {
    const ring = new ContentRing(100);
    ring.take(50);
    ring.take(50);
    ring.free(50);
    const span = ring.take(10);
    expect(span).toEqual({ offset: 0, cost: 10 });
  });

  it('starts again at 0 once everything is given back', () => {
    const ring = new ContentRing(100);
    ring.take(70);
    ring.free(70);
    expect(ring.take(50)).toEqual({ offset: 0, cost: 50 });
  });
});
